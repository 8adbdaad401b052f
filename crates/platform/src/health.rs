//! The standard gRPC health service, registered by every service: serving while up, not serving
//! from the moment shutdown starts.

use tonic::server::NamedService;
pub use tonic_health::server::HealthReporter;

use crate::shutdown::Shutdown;

/// A health service reporting `S` (and the server as a whole) as serving until `shutdown`
/// triggers.
pub async fn health_service<S: NamedService>(
    shutdown: &Shutdown,
) -> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_serving::<S>().await;
    let triggered = shutdown.triggered();
    tokio::spawn(async move {
        triggered.await;
        reporter.set_not_serving::<S>().await;
        reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    });
    service
}
