//! What a service says about its own health: the standard gRPC health service (every service
//! registers it) and which of its tasks failed, for readiness endpoints (why they failed goes to
//! the log only).
//!
//! A service is serving from the moment it listens until shutdown starts or one of its supervised
//! tasks fails (see [`crate::tasks`]); from then on it reports not serving, under each of its
//! gRPC service names and the server as a whole (`""`).

use std::sync::{Arc, Mutex, PoisonError};

use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
pub use tonic_health::server::HealthReporter;
use tonic_health::server::HealthService;

/// A service's health. Cheap to clone; every clone reports the same.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// The gRPC service names reported.
    names: Vec<&'static str>,
    /// The supervised tasks whose failure stopped the service.
    failed_tasks: Vec<&'static str>,
    /// Whether it has stopped serving.
    stopped: bool,
    /// Whether it is still getting ready (building an index, say) after it started listening.
    held: bool,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Health with nothing registered yet.
    pub fn new() -> Self {
        Health {
            reporter: HealthReporter::new(),
            state: Arc::default(),
        }
    }

    /// The gRPC health service answering from this health.
    pub fn grpc_service(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService::from_health_reporter(self.reporter.clone()))
    }

    /// Reports `names` (and the server as a whole) as serving, unless the service has already
    /// stopped serving or is still getting ready.
    pub async fn serving(&self, names: &[&'static str]) {
        let serving = {
            let mut state = self.lock();
            state.names.extend_from_slice(names);
            !state.stopped && !state.held
        };
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in names.iter().copied().chain([""]) {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// Keeps the service not serving, once it listens, until [`Health::ready`]: for a service
    /// that has work to do before its answers are whole.
    pub fn hold(&self) {
        self.lock().held = true;
    }

    /// The service held by [`Health::hold`] is ready: it reports serving (unless it has stopped).
    pub async fn ready(&self) {
        let names = {
            let mut state = self.lock();
            state.held = false;
            if state.stopped {
                return;
            }
            state.names.clone()
        };
        for name in names.into_iter().chain([""]) {
            self.reporter
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
    }

    /// Stops serving for good, recording the task whose failure stopped it (none for a shutdown).
    pub async fn stop_serving(&self, failed_task: Option<&'static str>) {
        let names = {
            let mut state = self.lock();
            state.stopped = true;
            state.failed_tasks.extend(failed_task);
            state.names.clone()
        };
        for name in names.into_iter().chain([""]) {
            self.reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    }

    /// Reports whether `component`, a part of the service that can fail without the service
    /// being unready (events set aside, say), works: its gRPC health status is serving or not.
    pub async fn report_component(&self, component: &'static str, working: bool) {
        let status = if working {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status(component, status).await;
    }

    /// Whether the service is serving.
    pub fn is_serving(&self) -> bool {
        let state = self.lock();
        !state.stopped && !state.held
    }

    /// The tasks whose failure stopped the service.
    pub fn failed_tasks(&self) -> Vec<&'static str> {
        self.lock().failed_tasks.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_server::Health as _;

    use super::*;

    async fn status(health: &Health, name: &str) -> i32 {
        let checks = HealthService::from_health_reporter(health.reporter.clone());
        let request = tonic::Request::new(HealthCheckRequest {
            service: name.to_owned(),
        });
        checks.check(request).await.unwrap().into_inner().status
    }

    #[tokio::test]
    async fn a_held_service_serves_only_once_ready() {
        let health = Health::new();
        health.hold();
        health.serving(&["opendata.search.v1.SearchService"]).await;
        assert!(!health.is_serving());
        assert_eq!(status(&health, "").await, ServingStatus::NotServing as i32);
        health.ready().await;
        assert!(health.is_serving());
        for name in ["", "opendata.search.v1.SearchService"] {
            assert_eq!(status(&health, name).await, ServingStatus::Serving as i32);
        }

        // Once stopped, getting ready changes nothing.
        health.stop_serving(None).await;
        health.ready().await;
        assert_eq!(status(&health, "").await, ServingStatus::NotServing as i32);
    }
}
