//! Graceful shutdown: one token every task watches, triggered by SIGTERM or SIGINT, and a bounded
//! drain of in-flight work.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A cheap, clonable handle that says when the process is shutting down.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Starts the shutdown: servers stop accepting, background loops stop.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when shutdown starts.
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }

    /// A child handle: triggered with this one, or on its own.
    pub fn child(&self) -> Shutdown {
        Shutdown {
            token: self.token.child_token(),
        }
    }

    /// Triggers this handle on the first SIGTERM or SIGINT.
    pub fn trigger_on_signals(&self) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            termination_signal().await;
            tracing::info!("termination signal received, draining");
            shutdown.trigger();
        });
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn termination_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Runs a server future that stops accepting when `shutdown` triggers and then drains; gives the
/// drain at most `grace`, after which remaining work is abandoned (open uploads stay uncommitted
/// and are cleaned up later). A panic of the server is passed on to the caller, never mistaken
/// for a clean stop.
pub async fn drain<F, E>(server: F, shutdown: &Shutdown, grace: Duration) -> Result<(), E>
where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    let mut task = tokio::spawn(server);
    tokio::select! {
        joined = &mut task => return served(joined),
        () = shutdown.triggered() => {}
    }
    match tokio::time::timeout(grace, &mut task).await {
        Ok(joined) => served(joined),
        Err(_) => {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "drain took too long, abandoning in-flight work"
            );
            task.abort();
            Ok(())
        }
    }
}

/// A joined server's outcome; its panic, if it panicked, resumed here.
fn served<E>(joined: Result<Result<(), E>, tokio::task::JoinError>) -> Result<(), E> {
    match joined {
        Ok(outcome) => outcome,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // Only an abort cancels it, and nothing aborts it but the drain's own timeout.
        Err(_) => Ok(()),
    }
}
