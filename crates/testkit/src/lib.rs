//! Test support: the whole stack in-process on port 0 with a fresh database and a unique NATS
//! prefix, typed clients carrying a key, a TCP proxy to cut and restore NATS, the components as
//! separate processes behind round-robin proxies (a cluster on one machine), and polling.

mod cluster;
mod process;
mod proxy;
mod review;
mod seed;
mod stack;

pub use cluster::{COMPONENTS, Cluster, ClusterOptions, Replica, RoundRobin};
pub use process::{ServerProcess, binary};
pub use proxy::TcpProxy;
pub use review::review_to_published;
pub use seed::{IdentityClient, Issued, principal_with_key};
pub use stack::{
    Clients, Owner, PostGis, ReviewClient, SearchEngine, ServiceUrls, TestDatabase, TestOptions,
    TestStack, drop_meilisearch_indexes, nats_url,
};

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
