//! Configuration of the governance service.

use std::net::SocketAddr;

use opendata_platform::config::{DatabaseConfig, TelemetryConfig};
use secrecy::SecretString;
use serde::Deserialize;

/// Behaviour settings, shared by the standalone binary and the all-in-one `opendata up`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSettings {
    /// A key that authenticates as an `admin` before any key exists: state IT's credential to
    /// create the first agencies, principals and keys. Unset disables it.
    pub bootstrap_admin_key: Option<SecretString>,
}

/// Configuration of the standalone `opendata-governance` binary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceConfig {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub drain_secs: u64,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Logging and tracing.
    pub telemetry: TelemetryConfig,
    /// Behaviour.
    pub governance: GovernanceSettings,
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        GovernanceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            drain_secs: 20,
            database: DatabaseConfig::default(),
            telemetry: TelemetryConfig::default(),
            governance: GovernanceSettings::default(),
        }
    }
}
