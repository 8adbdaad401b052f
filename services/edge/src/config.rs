//! Configuration of the edge.

use std::net::SocketAddr;

use opendata_platform::config::TelemetryConfig;
use serde::Deserialize;

use crate::rate_limit::RateLimitSettings;
use crate::server::ConnectionSettings;

/// Behaviour settings, shared by `opendata serve` and the all-in-one `opendata up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeSettings {
    /// Catalog's gRPC URL.
    pub catalog_url: String,
    /// Governance's gRPC URL.
    pub governance_url: String,
    /// Search's gRPC URL.
    pub search_url: String,
    /// Incentives' gRPC URL.
    pub incentives_url: String,
    /// Ingestion's gRPC URL (Socrata's write API passes rows through it).
    pub ingestion_url: String,
    /// The portal's public base URL, used in links (`/data.json` identifiers, permalinks); when
    /// empty, the address the edge listens on.
    pub public_url: String,
    /// The portal's name, as publisher of the catalog.
    pub portal_name: String,
    /// Seconds an app token (or key) is trusted before governance is asked again.
    pub auth_cache_ttl_secs: u64,
    /// Rate limits of the public API.
    pub rate_limits: RateLimitSettings,
    /// Limits of the HTTP connections.
    pub connections: ConnectionSettings,
    /// The public freshness dataset governance keeps (its
    /// `public_datasets.freshness_dataset_id`): dataset pages show their freshness from it.
    pub freshness_dataset_id: String,
    /// The public retired-datasets dataset governance keeps (its
    /// `public_datasets.retired_dataset_id`): the transparency page lists retirements from it.
    pub retired_dataset_id: String,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            catalog_url: "http://127.0.0.1:50052".to_owned(),
            governance_url: "http://127.0.0.1:50051".to_owned(),
            search_url: "http://127.0.0.1:50054".to_owned(),
            incentives_url: "http://127.0.0.1:50055".to_owned(),
            ingestion_url: "http://127.0.0.1:50053".to_owned(),
            public_url: String::new(),
            portal_name: "Connecticut Open Data".to_owned(),
            auth_cache_ttl_secs: 30,
            rate_limits: RateLimitSettings::default(),
            connections: ConnectionSettings::default(),
            freshness_dataset_id: "gov1-frsh".to_owned(),
            retired_dataset_id: "gov1-rtrd".to_owned(),
        }
    }
}

impl EdgeSettings {
    /// The public URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// Configuration of `opendata serve edge`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub drain_secs: u64,
    /// Where Prometheus scrapes `/metrics` (not served when unset).
    pub metrics_listen: Option<SocketAddr>,
    /// Logging and tracing.
    pub telemetry: TelemetryConfig,
    /// Behaviour.
    pub edge: EdgeSettings,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            drain_secs: 20,
            metrics_listen: None,
            telemetry: TelemetryConfig::default(),
            edge: EdgeSettings::default(),
        }
    }
}
