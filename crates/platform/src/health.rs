//! The standard gRPC health service, as every service registers it.

pub use tonic_health::server::{HealthReporter, health_reporter};
