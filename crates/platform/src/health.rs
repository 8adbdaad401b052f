//! The standard gRPC health service, registered by every service: serving while up, not serving
//! from the moment shutdown starts.

pub use tonic_health::server::HealthReporter;

use crate::shutdown::Shutdown;

/// A health service reporting the services named `names` (and the server as a whole) as serving
/// until `shutdown` triggers.
pub async fn health_service(
    names: &[&'static str],
    shutdown: &Shutdown,
) -> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
    let (reporter, service) = tonic_health::server::health_reporter();
    for name in names {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let names = names.to_vec();
    let triggered = shutdown.triggered();
    tokio::spawn(async move {
        triggered.await;
        for name in names.into_iter().chain([""]) {
            reporter
                .set_service_status(name, tonic_health::ServingStatus::NotServing)
                .await;
        }
    });
    service
}
