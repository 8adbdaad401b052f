//! Configuration of the search service.

use std::net::SocketAddr;

use opendata_platform::config::{NatsConfig, TelemetryConfig, TlsConfig};
use secrecy::SecretString;
use serde::Deserialize;

/// Where Meilisearch is and how to use it. Without a URL the embedded engine is used.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeilisearchSettings {
    /// Base URL (`http://meilisearch:7700`); empty selects the embedded engine.
    pub url: String,
    /// API key with rights to manage the prefixed indexes.
    pub api_key: Option<SecretString>,
    /// Prefix of every index name, so several portals (or test runs) share one server.
    pub index_prefix: String,
    /// Longest wait for Meilisearch to finish an indexing task, in seconds.
    pub task_timeout_secs: u64,
}

impl Default for MeilisearchSettings {
    fn default() -> Self {
        MeilisearchSettings {
            url: String::new(),
            api_key: None,
            index_prefix: "opendata_".to_owned(),
            task_timeout_secs: 60,
        }
    }
}

/// Behaviour settings, shared by `opendata serve` and the all-in-one `opendata up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchSettings {
    /// Catalog's gRPC URL: the source of what is indexed.
    pub catalog_url: String,
    /// Governance's gRPC URL: agency names, and keys for `Reindex`.
    pub governance_url: String,
    /// Incentives' gRPC URL: the source of the award documents; empty indexes no awards.
    pub incentives_url: String,
    /// The agency incentive awards belong to (DECD).
    pub incentives_agency_id: String,
    /// Seconds an authenticated key is trusted before governance is asked again.
    pub auth_cache_ttl_secs: u64,
    /// Meilisearch; unset uses the embedded engine.
    pub meilisearch: MeilisearchSettings,
    /// Groups of words that mean the same thing (`["dmv", "motor vehicles"]`); a query for any
    /// one of a group also finds the others.
    pub synonyms: Vec<Vec<String>>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        let group = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect();
        SearchSettings {
            catalog_url: "http://127.0.0.1:50052".to_owned(),
            governance_url: "http://127.0.0.1:50051".to_owned(),
            incentives_url: "http://127.0.0.1:50055".to_owned(),
            incentives_agency_id: "decd".to_owned(),
            auth_cache_ttl_secs: 30,
            meilisearch: MeilisearchSettings::default(),
            synonyms: vec![
                group(&["dmv", "motor vehicles"]),
                group(&["covid", "covid-19", "coronavirus"]),
                group(&["ct", "connecticut"]),
                group(&["dot", "transportation"]),
            ],
        }
    }
}

/// Configuration of `opendata serve search`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub drain_secs: u64,
    /// Where Prometheus scrapes `/metrics` (not served when unset).
    pub metrics_listen: Option<SocketAddr>,
    /// TLS for the gRPC server (plaintext when unset).
    pub tls: TlsConfig,
    /// NATS JetStream.
    pub nats: NatsConfig,
    /// Logging and tracing.
    pub telemetry: TelemetryConfig,
    /// Behaviour.
    pub search: SearchSettings,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50054)),
            drain_secs: 20,
            metrics_listen: None,
            tls: TlsConfig::default(),
            nats: NatsConfig::default(),
            telemetry: TelemetryConfig::default(),
            search: SearchSettings::default(),
        }
    }
}
