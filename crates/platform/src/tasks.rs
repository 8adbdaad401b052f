//! Supervised tasks: every long-running task of a service (its server, outbox relay, event
//! consumers, periodic jobs) runs in one [`Tasks`] set, under a name.
//!
//! They are all critical: each is meant to run until shutdown, so a panic, a fatal error or an
//! early return is a failure. The first one is logged once with the task's name, turns the
//! service's [`Health`] to not serving (gRPC health and readiness say so at once) and stops the
//! service, whose `serve` then returns the failure: the process exits non-zero and its supervisor
//! (Kubernetes, systemd, `opendata up`'s caller) restarts it, the way a failed critical task stops
//! a Restate node. Nothing fails silently while the service keeps answering as if all were well.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::task::{Id, JoinError, JoinSet};

use crate::db::DeploymentError;
use crate::health::Health;
use crate::shutdown::Shutdown;

/// What a supervised task returns: `Err` with the reason when it cannot go on.
pub type TaskResult = Result<(), String>;

/// A service stopped before it was asked to, because one of its tasks failed.
#[derive(Debug, thiserror::Error)]
#[error("{service}: task `{task}` failed: {reason}")]
pub struct TaskFailed {
    /// The service.
    pub service: &'static str,
    /// The task that failed first.
    pub task: &'static str,
    /// Why.
    pub reason: String,
}

/// One service's supervised tasks.
pub struct Tasks {
    service: &'static str,
    shutdown: Shutdown,
    health: Health,
    running: JoinSet<TaskResult>,
    names: HashMap<Id, &'static str>,
    failure: Option<TaskFailed>,
}

impl Tasks {
    /// An empty set for `service`, reporting to `health`. It stops with `shutdown`, or on its own
    /// when a task fails.
    pub fn new(service: &'static str, health: Health, shutdown: &Shutdown) -> Tasks {
        Tasks {
            service,
            shutdown: shutdown.child(),
            health,
            running: JoinSet::new(),
            names: HashMap::new(),
            failure: None,
        }
    }

    /// The handle every task of the set (and the server) must stop with.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The service's health.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Starts `task`, which must run until [`Tasks::shutdown`] triggers.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = TaskResult> + Send + 'static,
    {
        let handle = self.running.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Starts a task that runs `round` every `interval` until shutdown. A failed round is logged
    /// and the next one tries again (databases come back), unless the error says the deployment
    /// is broken, which stops the task and so the service.
    pub fn spawn_every<F, Fut, E>(&mut self, name: &'static str, interval: Duration, mut round: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: DeploymentError,
    {
        let shutdown = self.shutdown();
        let rounds = crate::metrics::metrics()
            .task_rounds
            .get_or_create(&crate::metrics::TaskLabels {
                service: self.service,
                task: name,
            })
            .clone();
        self.spawn(name, async move {
            while !shutdown.is_triggered() {
                match round().await {
                    Ok(()) => {}
                    Err(error) if error.is_broken_deployment() => return Err(error.to_string()),
                    Err(error) => tracing::warn!(task = name, %error, "round failed, will retry"),
                }
                rounds.inc();
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = shutdown.triggered() => {}
                }
            }
            Ok(())
        });
    }

    /// Runs `server` (which must stop when [`Tasks::shutdown`] triggers) and supervises the tasks
    /// until the server has stopped; then lets the tasks finish their last round for at most
    /// `grace`. Returns the first failure, if any.
    pub async fn run<F, E>(mut self, server: F, grace: Duration) -> Result<(), TaskFailed>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let mut server = tokio::spawn(server);
        let mut stopping = false;
        let served = loop {
            tokio::select! {
                served = &mut server => break served,
                Some(joined) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    self.finished(joined).await;
                }
                () = self.shutdown.triggered(), if !stopping => {
                    stopping = true;
                    self.health.stop_serving(None).await;
                }
            }
        };
        let server_failure = match served {
            Ok(Ok(())) if self.shutdown.is_triggered() => None,
            Ok(Ok(())) => Some("stopped serving before shutdown".to_owned()),
            Ok(Err(error)) => Some(error.to_string()),
            Err(join) => Some(panic_message(join)),
        };
        if let Some(reason) = server_failure {
            self.fail("server", reason).await;
        }
        self.shutdown.trigger();
        self.health.stop_serving(None).await;
        let last_rounds = async {
            while let Some(joined) = self.running.join_next_with_id().await {
                self.finished(joined).await;
            }
        };
        if tokio::time::timeout(grace, last_rounds).await.is_err() {
            tracing::warn!(
                service = self.service,
                "background tasks did not stop in time, abandoning them"
            );
            self.running.abort_all();
        }
        self.failure.map_or(Ok(()), Err)
    }

    /// Handles a task that ended.
    async fn finished(&mut self, joined: Result<(Id, TaskResult), JoinError>) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Ok(outcome)),
            Err(join) => (join.id(), Err(join)),
        };
        let name = self.names.remove(&id).unwrap_or("unnamed");
        let reason = match outcome {
            Ok(Ok(())) if self.shutdown.is_triggered() => return,
            Ok(Ok(())) => "stopped before shutdown".to_owned(),
            Ok(Err(reason)) => reason,
            Err(join) if join.is_cancelled() => return,
            Err(join) => panic_message(join),
        };
        self.fail(name, reason).await;
    }

    /// Records a failure (the first one is what `run` returns), logs it, stops serving and stops
    /// the service.
    async fn fail(&mut self, task: &'static str, reason: String) {
        tracing::error!(
            service = self.service,
            task,
            %reason,
            "critical task failed, stopping the service"
        );
        self.health.stop_serving(Some(task)).await;
        self.shutdown.trigger();
        self.failure.get_or_insert(TaskFailed {
            service: self.service,
            task,
            reason,
        });
    }
}

/// What a panicked task said.
fn panic_message(join: JoinError) -> String {
    if !join.is_panic() {
        return join.to_string();
    }
    let payload = join.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text payload".to_owned());
    format!("panicked: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve_until(shutdown: Shutdown) -> Result<(), String> {
        shutdown.triggered().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_panicking_task_stops_the_service_and_is_named() {
        let shutdown = Shutdown::new();
        let health = Health::new();
        health.serving(&["test.Service"]).await;
        let mut tasks = Tasks::new("test", health.clone(), &shutdown);
        tasks.spawn("steady", {
            let shutdown = tasks.shutdown();
            async move { serve_until(shutdown).await }
        });
        tasks.spawn("doomed", async { panic!("boom") });
        let server = serve_until(tasks.shutdown());
        let failed = tasks.run(server, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(failed.task, "doomed");
        assert_eq!(failed.reason, "panicked: boom");
        assert!(!health.is_serving());
        assert_eq!(health.failed_tasks(), ["doomed"]);
        assert!(
            !shutdown.is_triggered(),
            "only the service stops, not its parent"
        );
    }

    #[tokio::test]
    async fn an_early_return_or_a_fatal_error_is_a_failure() {
        for (task, expected) in [
            (Ok(()), "stopped before shutdown"),
            (
                Err("the outbox table is gone".to_owned()),
                "the outbox table is gone",
            ),
        ] {
            let mut tasks = Tasks::new("test", Health::new(), &Shutdown::new());
            tasks.spawn("relay", async move { task });
            let server = serve_until(tasks.shutdown());
            let failed = tasks.run(server, Duration::from_secs(5)).await.unwrap_err();
            assert_eq!((failed.task, failed.reason.as_str()), ("relay", expected));
        }
    }

    #[tokio::test]
    async fn a_shutdown_is_clean_and_not_serving() {
        let shutdown = Shutdown::new();
        let health = Health::new();
        let mut tasks = Tasks::new("test", health.clone(), &shutdown);
        let rounds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        tasks.spawn_every("counter", Duration::from_millis(5), {
            let rounds = rounds.clone();
            move || {
                let rounds = rounds.clone();
                async move {
                    rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Err::<(), _>(sqlx::Error::PoolTimedOut)
                }
            }
        });
        let server = serve_until(tasks.shutdown());
        let running = tokio::spawn(tasks.run(server, Duration::from_secs(5)));
        tokio::time::timeout(Duration::from_secs(5), async {
            while rounds.load(std::sync::atomic::Ordering::Relaxed) < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("rounds go on after failing");
        shutdown.trigger();
        running.await.unwrap().unwrap();
        assert!(!health.is_serving());
        assert!(health.failed_tasks().is_empty());
        assert!(
            rounds.load(std::sync::atomic::Ordering::Relaxed) > 1,
            "transient failures are retried, not fatal"
        );
        let counted = crate::metrics::metrics()
            .task_rounds
            .get_or_create(&crate::metrics::TaskLabels {
                service: "test",
                task: "counter",
            })
            .get();
        assert!(counted > 1, "failed rounds are counted too: {counted}");
    }

    /// An error no retry fixes.
    struct Broken;

    impl Display for Broken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("relation \"outbox\" does not exist")
        }
    }

    impl DeploymentError for Broken {
        fn is_broken_deployment(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn a_periodic_job_on_a_broken_deployment_stops_the_service() {
        let health = Health::new();
        let mut tasks = Tasks::new("test", health.clone(), &Shutdown::new());
        tasks.spawn_every("janitor", Duration::from_millis(5), || async {
            Err::<(), _>(Broken)
        });
        let server = serve_until(tasks.shutdown());
        let failed = tokio::time::timeout(
            Duration::from_secs(5),
            tasks.run(server, Duration::from_secs(5)),
        )
        .await
        .expect("the service stops")
        .unwrap_err();
        assert_eq!(failed.task, "janitor");
        assert!(
            failed.reason.contains("does not exist"),
            "{}",
            failed.reason
        );
        assert_eq!(health.failed_tasks(), ["janitor"]);
    }

    #[tokio::test]
    async fn a_server_that_fails_stops_the_tasks() {
        let mut tasks = Tasks::new("test", Health::new(), &Shutdown::new());
        let task_shutdown = tasks.shutdown();
        tasks.spawn("steady", async move { serve_until(task_shutdown).await });
        let failed = tasks
            .run(
                async { Err::<(), _>("address in use") },
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (failed.task, failed.reason.as_str()),
            ("server", "address in use")
        );
    }
}
