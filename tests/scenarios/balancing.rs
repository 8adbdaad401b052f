//! Calls from one service reach every replica its peer's name resolves to, and stop reaching a
//! replica once the name no longer resolves to it (as a headless Service drops a pod that is
//! stopping); a name that does not resolve fails calls at once instead of holding them. Two real
//! gRPC servers stand in for two replicas: each reports a different health for the service
//! `which`, so every answer says which replica gave it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opendata_platform::channels::{channel, channel_over};
use opendata_testkit::wait_until;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A gRPC server answering health checks, reporting `status` for the service `which`.
async fn replica(status: ServingStatus) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_service_status("which", status).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    (address, stop)
}

/// Which replicas answered `calls` health checks.
async fn answers(client: &mut HealthClient<tonic::transport::Channel>, calls: usize) -> Vec<i32> {
    let mut seen = Vec::new();
    for _ in 0..calls {
        let status = client
            .check(HealthCheckRequest {
                service: "which".to_owned(),
            })
            .await
            .expect("a replica answers")
            .into_inner()
            .status;
        seen.push(status);
    }
    seen
}

#[tokio::test]
async fn calls_spread_over_every_resolved_replica_and_leave_one_that_is_gone() {
    let (first, stop_first) = replica(ServingStatus::Serving).await;
    let (second, _stop_second) = replica(ServingStatus::NotServing).await;
    let resolved = Arc::new(Mutex::new(vec![first, second]));
    let resolve = {
        let resolved = Arc::clone(&resolved);
        move || {
            let addresses = resolved.lock().unwrap().clone();
            async move { Ok(addresses) }
        }
    };
    // The name is the origin of every call; its addresses are what `resolve` says.
    let channel = channel_over("http://replicas.opendata.test:50051", resolve).unwrap();
    let mut client = HealthClient::new(channel);

    let both = wait_until(Duration::from_secs(10), "calls reach both replicas", || {
        let mut client = client.clone();
        async move {
            let seen = answers(&mut client, 40).await;
            let from_first = seen
                .iter()
                .filter(|status| **status == ServingStatus::Serving as i32)
                .count();
            (5..=35).contains(&from_first).then_some(from_first)
        }
    })
    .await;
    assert!(both > 0);

    // The first replica leaves the name, then stops: no call fails, and none reaches it.
    *resolved.lock().unwrap() = vec![second];
    wait_until(
        Duration::from_secs(10),
        "calls reach only the second replica",
        || {
            let mut client = client.clone();
            async move {
                // Sixty in a row from the second: by chance, with both in, one time in 2^60.
                let seen = answers(&mut client, 60).await;
                seen.iter()
                    .all(|status| *status == ServingStatus::NotServing as i32)
                    .then_some(())
            }
        },
    )
    .await;
    let _ = stop_first.send(());
    let seen = answers(&mut client, 30).await;
    assert!(
        seen.iter()
            .all(|status| *status == ServingStatus::NotServing as i32),
        "only the second replica answers once the first is gone: {seen:?}"
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_fails_calls_at_once() {
    let channel = channel("http://no-such-service.invalid:50051").unwrap();
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        HealthClient::new(channel).check(HealthCheckRequest::default()),
    )
    .await
    .expect("the call ends instead of waiting for an address");
    assert_eq!(outcome.unwrap_err().code(), tonic::Code::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(5));
}
