//! Calls from one client reach every replica a service name resolves to, and stop reaching a
//! replica once the name no longer resolves to it (as a headless Service drops a pod that is
//! stopping). Two real gRPC servers stand in for two replicas: each reports a different health
//! for the service `which`, so every answer says which replica gave it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opendata_platform::channels::{RESOLVE_EVERY, spread_over};
use tonic::transport::Endpoint;
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
    let channel = spread_over(resolve, |address| {
        Ok(Endpoint::from_shared(format!("http://{address}")).unwrap())
    });
    let mut client = HealthClient::new(channel);

    let seen = answers(&mut client, 60).await;
    let from_first = seen
        .iter()
        .filter(|status| **status == ServingStatus::Serving as i32)
        .count();
    assert!(
        (5..=55).contains(&from_first),
        "both replicas answer: {from_first} of 60 from the first"
    );

    // The first replica leaves the name, then stops: no call fails, and none reaches it.
    *resolved.lock().unwrap() = vec![second];
    tokio::time::sleep(RESOLVE_EVERY + Duration::from_millis(500)).await;
    let _ = stop_first.send(());
    let seen = answers(&mut client, 30).await;
    assert!(
        seen.iter()
            .all(|status| *status == ServingStatus::NotServing as i32),
        "only the second replica answers once the first is gone: {seen:?}"
    );
}
