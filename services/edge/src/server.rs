//! The edge's HTTP server: the router on hyper HTTP/1.1 connections, with the limits a public
//! server needs and `axum::serve` does not set.
//!
//! - A deadline for each request's headers ([`HEADER_READ_TIMEOUT`]). hyper runs it from the
//!   moment it waits for a request, so the same deadline closes keep-alive connections left idle:
//!   neither slow-header clients nor idle ones can pile up connections.
//! - A client that stops reading its response for [`WRITE_STALL_SECONDS`] is disconnected, so it
//!   cannot hold a connection (and the row stream behind it) by never reading.
//! - At most [`MAX_CONNECTIONS`] connections open at once; past that the edge stops accepting
//!   (they wait in the kernel's backlog) instead of running out of file descriptors.
//! - On shutdown it stops accepting, lets in-flight requests finish and closes keep-alive
//!   connections, within the drain's grace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use opendata_limits::{
    ADMIN_BODY_SECONDS, CONNECTIONS_PER_ADDRESS, HEADER_READ_TIMEOUT, MAX_CONNECTIONS,
    REQUEST_HEAD_BYTES, WRITE_STALL_SECONDS,
};
use opendata_platform::in_flight::InFlight;
use opendata_platform::shutdown::Shutdown;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::rate_limit::quota_key;
use crate::stalled_writes::StalledWrites;

/// Connection limits, from configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionSettings {
    /// Seconds a client has to send a request's headers, and a keep-alive connection may stay
    /// idle.
    pub header_read_timeout_secs: u64,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections one address keeps open at once, when the edge faces clients directly.
    pub max_connections_per_address: u32,
    /// Seconds a client has to send a request body (the staff routes take bodies).
    pub body_timeout_secs: u64,
    /// Seconds a response may wait for the client to read any of it.
    pub write_timeout_secs: u64,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            header_read_timeout_secs: HEADER_READ_TIMEOUT.value,
            max_connections: MAX_CONNECTIONS.get(),
            max_connections_per_address: CONNECTIONS_PER_ADDRESS.value as u32,
            body_timeout_secs: ADMIN_BODY_SECONDS.value,
            write_timeout_secs: WRITE_STALL_SECONDS.value,
        }
    }
}

/// Serves `app` on `listener` until `shutdown`; then drains for at most `grace`. Unless
/// `behind_proxy`, each address keeps at most its share of the connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &ConnectionSettings,
    behind_proxy: bool,
    shutdown: Shutdown,
    grace: Duration,
) -> Result<(), std::convert::Infallible> {
    let per_address = InFlight::default();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .max_buf_size(REQUEST_HEAD_BYTES.get())
        .header_read_timeout(Duration::from_secs(
            settings.header_read_timeout_secs.max(1),
        ))
        .keep_alive(true);
    let write_allowance = Duration::from_secs(settings.write_timeout_secs.max(1));
    let open = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let connections = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => permit,
            () = shutdown.triggered() => break,
        };
        let Ok(permit) = permit else { break };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or the peer gave up before we accepted: keep serving.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.triggered() => break,
        };
        let share = if behind_proxy {
            None
        } else {
            let address = quota_key(remote.ip());
            match per_address.enter(&address, settings.max_connections_per_address) {
                Some(share) => Some(share),
                // Closed at once: one address may not hold everyone's connections.
                None => continue,
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            app.clone().oneshot(request)
        });
        let stream = StalledWrites::new(stream, write_allowance);
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop((permit, share));
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "connections still open after the drain, closing them"
        );
    }
    Ok(())
}
