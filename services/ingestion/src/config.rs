//! Configuration of the ingestion service.

use std::net::SocketAddr;

use opendata_limits::{RETENTION_DAYS, RETENTION_VERSIONS};
use opendata_platform::config::{DatabaseConfig, NatsConfig, TelemetryConfig, TlsConfig};
use serde::Deserialize;

use crate::retention::KeepPolicy;

/// Behaviour settings, shared by `opendata serve` and the all-in-one `opendata up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestionSettings {
    /// Governance's gRPC URL, for authenticating keys.
    pub governance_url: String,
    /// Catalog's gRPC URL, for dataset schemas and ownership.
    pub catalog_url: String,
    /// Seconds an authenticated key is trusted before governance is asked again; a revoked key
    /// stops working within this time.
    pub auth_cache_ttl_secs: u64,
    /// An upload that receives nothing for this many seconds is abandoned and cleaned up.
    pub receive_idle_timeout_secs: u64,
    /// A loaded upload not committed within this many seconds is abandoned and cleaned up.
    pub uncommitted_expiry_secs: u64,
    /// Seconds a replaced version stays readable at the least (for queries still reading it),
    /// whatever the retention says, before its view, and the rows only it held, go.
    pub retired_table_grace_secs: u64,
    /// Default retention: days a replaced version is kept after it was replaced (a dataset may
    /// set its own with `SetRetention`); at most 36,500.
    pub retention_days: u32,
    /// Default retention: the newest versions kept whatever their age (the current one
    /// included); at least 1, at most 10,000.
    pub retention_versions: u32,
    /// Seconds between clean-up rounds.
    pub janitor_interval_secs: u64,
    /// Rejected rows stored per upload with their details; more are counted, not stored.
    pub max_stored_rejections: u64,
    /// Bytes of encoded rows sent to PostgreSQL per COPY message.
    pub copy_buffer_bytes: usize,
    /// Uploads loading rows at once; more wait up to 10 s for a turn, then are told to retry.
    pub max_concurrent_loads: u32,
}

impl Default for IngestionSettings {
    fn default() -> Self {
        IngestionSettings {
            governance_url: "http://127.0.0.1:50051".to_owned(),
            catalog_url: "http://127.0.0.1:50052".to_owned(),
            auth_cache_ttl_secs: 30,
            receive_idle_timeout_secs: 600,
            uncommitted_expiry_secs: 24 * 3600,
            retired_table_grace_secs: 300,
            retention_days: 365,
            retention_versions: 10,
            janitor_interval_secs: 30,
            max_stored_rejections: 10_000,
            copy_buffer_bytes: 1024 * 1024,
            max_concurrent_loads: 8,
        }
    }
}

impl IngestionSettings {
    /// Checks the default retention is within its limits, naming the key that is not.
    pub fn validate(&self) -> Result<(), String> {
        let days = RETENTION_DAYS.value;
        if u64::from(self.retention_days) > days {
            return Err(format!(
                "ingestion.retention_days ({}) must be at most {days}",
                self.retention_days
            ));
        }
        let versions = RETENTION_VERSIONS.value;
        if self.retention_versions == 0 || u64::from(self.retention_versions) > versions {
            return Err(format!(
                "ingestion.retention_versions ({}) must be from 1 to {versions}",
                self.retention_versions
            ));
        }
        Ok(())
    }

    /// The retention of datasets without their own.
    pub fn default_retention(&self) -> KeepPolicy {
        KeepPolicy {
            keep_days: self.retention_days as i32,
            keep_versions: self.retention_versions as i32,
        }
    }
}

/// Configuration of `opendata serve ingestion`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestionConfig {
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
    pub ingestion: IngestionSettings,
}

impl Default for IngestionConfig {
    fn default() -> Self {
        IngestionConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50053)),
            drain_secs: 20,
            metrics_listen: None,
            tls: TlsConfig::default(),
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            telemetry: TelemetryConfig::default(),
            ingestion: IngestionSettings::default(),
        }
    }
}
