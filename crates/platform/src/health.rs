//! What a service says about its own health: the standard gRPC health service (every service
//! registers it) and the problems behind a "not serving", for readiness endpoints and logs.
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
    /// Why the service is not serving, once it is not.
    problems: Vec<String>,
    /// Whether it has stopped serving.
    stopped: bool,
    /// Parts that work less well than they should, without making the service unready, and why.
    degraded: Vec<(&'static str, String)>,
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

    /// Stops serving for good, recording `problem` when there is one (a failed task; none for a
    /// shutdown).
    pub async fn stop_serving(&self, problem: Option<String>) {
        let names = {
            let mut state = self.lock();
            state.stopped = true;
            state.problems.extend(problem);
            state.names.clone()
        };
        for name in names.into_iter().chain([""]) {
            self.reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    }

    /// Reports whether `component`, a part of the service that can fail without the service
    /// being unready (events set aside, say), is degraded and why. Its gRPC health status is
    /// serving or not serving accordingly.
    pub async fn report_component(&self, component: &'static str, problem: Option<String>) {
        let status = if problem.is_some() {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        {
            let mut state = self.lock();
            state.degraded.retain(|(name, _)| *name != component);
            if let Some(problem) = problem {
                state.degraded.push((component, problem));
            }
        }
        self.reporter.set_service_status(component, status).await;
    }

    /// The degraded components and why.
    pub fn degraded(&self) -> Vec<(&'static str, String)> {
        self.lock().degraded.clone()
    }

    /// Whether the service is serving.
    pub fn is_serving(&self) -> bool {
        !self.lock().stopped
    }

    /// Why the service stopped serving, if a failure stopped it.
    pub fn problems(&self) -> Vec<String> {
        self.lock().problems.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
