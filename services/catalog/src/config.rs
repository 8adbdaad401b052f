//! Configuration of the catalog service.

use std::net::SocketAddr;

use opendata_platform::config::{DatabaseConfig, NatsConfig, TelemetryConfig};
use serde::Deserialize;

/// Behaviour settings, shared by the standalone binary and the all-in-one `opendata up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    /// Governance's gRPC URL, for authenticating keys.
    pub governance_url: String,
    /// Seconds an authenticated key is trusted before governance is asked again.
    pub auth_cache_ttl_secs: u64,
    /// Longest a row query may run, in seconds (exports stream for as long as the client reads).
    pub query_timeout_secs: u64,
    /// Bytes of serialized rows per streamed chunk.
    pub chunk_bytes: usize,
    /// Row queries running at once; more wait up to 5 s for a turn, then are told to retry.
    pub max_concurrent_queries: u32,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogSettings {
            governance_url: "http://127.0.0.1:50051".to_owned(),
            auth_cache_ttl_secs: 30,
            query_timeout_secs: 300,
            chunk_bytes: 64 * 1024,
            max_concurrent_queries: 16,
        }
    }
}

/// Configuration of the standalone `opendata-catalog` binary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub drain_secs: u64,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// NATS JetStream.
    pub nats: NatsConfig,
    /// Logging and tracing.
    pub telemetry: TelemetryConfig,
    /// Behaviour.
    pub catalog: CatalogSettings,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50052)),
            drain_secs: 20,
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            telemetry: TelemetryConfig::default(),
            catalog: CatalogSettings::default(),
        }
    }
}
