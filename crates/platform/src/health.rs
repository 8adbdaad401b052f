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
    /// stopped serving.
    pub async fn serving(&self, names: &[&'static str]) {
        let stopped = {
            let mut state = self.lock();
            state.names.extend_from_slice(names);
            state.stopped
        };
        let status = if stopped {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        for name in names.iter().copied().chain([""]) {
            self.reporter.set_service_status(name, status).await;
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
        !self.lock().stopped
    }

    /// The tasks whose failure stopped the service.
    pub fn failed_tasks(&self) -> Vec<&'static str> {
        self.lock().failed_tasks.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
