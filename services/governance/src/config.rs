//! Configuration of the governance service.

use std::net::SocketAddr;

use opendata_platform::config::{DatabaseConfig, NatsConfig, TelemetryConfig, TlsConfig};
use secrecy::SecretString;
use serde::Deserialize;

use crate::public_datasets::PublicDatasetSettings;

/// Behaviour settings, shared by `opendata serve` and the all-in-one `opendata up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSettings {
    /// A key that authenticates as an `admin` before any key exists: state IT's credential to
    /// create the first agencies, principals and keys. Unset disables it.
    pub bootstrap_admin_key: Option<SecretString>,
    /// Catalog's gRPC URL, to look up a dataset nominated before its creation event arrived.
    pub catalog_url: String,
    /// Days a retired dataset stays public before it is made private.
    pub retired_public_days: i64,
    /// Grace after a due date before a dataset is stale, in percent of its update period (at
    /// least a day).
    pub stale_grace_percent: u32,
    /// Seconds between runs of the scheduled jobs (stale announcements, retirements, the public
    /// governance datasets).
    pub job_interval_secs: u64,
    /// Ingestion's gRPC URL, to push the public governance datasets.
    pub ingestion_url: String,
    /// The public freshness and retired-assets datasets.
    pub public_datasets: PublicDatasetSettings,
    /// Seconds a staff web session lasts from sign-in (limit `staff_session_seconds`).
    pub session_lifetime_secs: u64,
}

impl Default for GovernanceSettings {
    fn default() -> Self {
        GovernanceSettings {
            bootstrap_admin_key: None,
            catalog_url: "http://127.0.0.1:50052".to_owned(),
            retired_public_days: 30,
            stale_grace_percent: 25,
            job_interval_secs: 60,
            ingestion_url: "http://127.0.0.1:50053".to_owned(),
            public_datasets: PublicDatasetSettings::default(),
            session_lifetime_secs: opendata_limits::STAFF_SESSION_SECONDS.value,
        }
    }
}

/// Configuration of `opendata serve governance`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceConfig {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub drain_secs: u64,
    /// Where Prometheus scrapes `/metrics` (not served when unset).
    pub metrics_listen: Option<SocketAddr>,
    /// TLS for the gRPC server (plaintext when unset).
    pub tls: TlsConfig,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// NATS JetStream.
    pub nats: NatsConfig,
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
            metrics_listen: None,
            tls: TlsConfig::default(),
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            telemetry: TelemetryConfig::default(),
            governance: GovernanceSettings::default(),
        }
    }
}
