//! Configuration of the incentives service.

use std::net::SocketAddr;

use opendata_limits::{AWARD_EXPORT_SECONDS, AWARD_EXPORTS};
use opendata_platform::config::{DatabaseConfig, NatsConfig, TelemetryConfig, TlsConfig};
use serde::Deserialize;

use crate::publishing::DatasetSettings;

/// Behaviour settings, shared by `opendata serve` and the all-in-one `opendata up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncentivesSettings {
    /// Governance's gRPC URL, to authenticate keys.
    pub governance_url: String,
    /// The agency whose ADO and publishers record awards (DECD).
    pub agency_id: String,
    /// Seconds a key is trusted before governance is asked again.
    pub auth_cache_ttl_secs: u64,
    /// Catalog's gRPC URL, to create the award dataset.
    pub catalog_url: String,
    /// Ingestion's gRPC URL, to push the award dataset's rows.
    pub ingestion_url: String,
    /// Search's gRPC URL, to match company names by full text (empty: the database matches
    /// them alone; see `crate::company`).
    pub search_url: String,
    /// The award table as a portal dataset.
    pub dataset: DatasetSettings,
    /// Award downloads streaming at once (`award_exports`).
    pub max_concurrent_exports: usize,
    /// Seconds one award download may take, the client's reading included
    /// (`award_export_seconds`).
    pub export_timeout_secs: u64,
}

impl IncentivesSettings {
    /// Checks the settings that have no sensible zero, naming the key that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrent_exports == 0 {
            return Err("incentives.max_concurrent_exports must be at least 1".to_owned());
        }
        if self.export_timeout_secs == 0 {
            return Err("incentives.export_timeout_secs must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl Default for IncentivesSettings {
    fn default() -> Self {
        IncentivesSettings {
            governance_url: "http://127.0.0.1:50051".to_owned(),
            agency_id: "decd".to_owned(),
            auth_cache_ttl_secs: 30,
            catalog_url: "http://127.0.0.1:50052".to_owned(),
            ingestion_url: "http://127.0.0.1:50053".to_owned(),
            search_url: "http://127.0.0.1:50054".to_owned(),
            dataset: DatasetSettings::default(),
            max_concurrent_exports: AWARD_EXPORTS.value as usize,
            export_timeout_secs: AWARD_EXPORT_SECONDS.value,
        }
    }
}

/// Configuration of `opendata serve incentives`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncentivesConfig {
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
    pub incentives: IncentivesSettings,
}

impl Default for IncentivesConfig {
    fn default() -> Self {
        IncentivesConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50055)),
            drain_secs: 20,
            metrics_listen: None,
            tls: TlsConfig::default(),
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            telemetry: TelemetryConfig::default(),
            incentives: IncentivesSettings::default(),
        }
    }
}
