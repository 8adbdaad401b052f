//! Configuration of the catalog service.

use std::net::SocketAddr;

use opendata_limits::{
    ANONYMOUS_QUERIES, EXPENSIVE_PUBLIC_QUERIES, PUBLIC_QUERIES, QUERIES_PER_PRINCIPAL,
    QUERY_CONNECTIONS, QUERY_SECONDS_ANONYMOUS, QUERY_SECONDS_KEY, QUERY_SECONDS_TOKEN,
};
use opendata_platform::config::{DatabaseConfig, NatsConfig, TelemetryConfig, TlsConfig};
use serde::Deserialize;

/// Behaviour settings, shared by `opendata serve` and the all-in-one `opendata up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    /// Governance's gRPC URL, for authenticating keys.
    pub governance_url: String,
    /// Seconds an authenticated key is trusted before governance is asked again.
    pub auth_cache_ttl_secs: u64,
    /// Longest a key holder's row query may run, in seconds, streaming included (exports stream
    /// for as long as the client reads).
    pub query_timeout_secs: u64,
    /// Longest an app token holder's row query may run, in seconds.
    pub token_query_timeout_secs: u64,
    /// Longest an anonymous row query may run, in seconds.
    pub anonymous_query_timeout_secs: u64,
    /// Bytes of serialized rows per streamed chunk.
    pub chunk_bytes: usize,
    /// Row queries running at once (their own connections); more wait up to 5 s for a turn, then
    /// are told to retry.
    pub max_concurrent_queries: u32,
    /// Row queries the public (anonymous callers and app token holders) runs at once, together;
    /// below `max_concurrent_queries`, so key holders always find a connection.
    pub max_concurrent_public_queries: u32,
    /// Row queries anonymous callers run at once, together; at most
    /// `max_concurrent_public_queries`, so app token holders find one too.
    pub max_concurrent_anonymous_queries: u32,
    /// Row queries one key or app token runs at once.
    pub max_concurrent_queries_per_principal: u32,
    /// The planner's cost from which a row query counts as expensive (a full scan of the
    /// real-estate table costs about 2,500 for 100,000 rows and 25,000 to 30,000 for 1,000,000;
    /// an indexed filter of either, under 2,000).
    pub expensive_query_cost: f64,
    /// Expensive row queries the public runs at once, together.
    pub max_concurrent_expensive_public_queries: u32,
}

impl CatalogSettings {
    /// Checks that the shares fit in each other, naming the key that does not.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrent_public_queries >= self.max_concurrent_queries {
            return Err(format!(
                "catalog.max_concurrent_public_queries ({}) must be below catalog.max_concurrent_queries ({}), so key holders always find a connection",
                self.max_concurrent_public_queries, self.max_concurrent_queries
            ));
        }
        if self.max_concurrent_expensive_public_queries > self.max_concurrent_public_queries {
            return Err(format!(
                "catalog.max_concurrent_expensive_public_queries ({}) must be at most catalog.max_concurrent_public_queries ({})",
                self.max_concurrent_expensive_public_queries, self.max_concurrent_public_queries
            ));
        }
        if self.max_concurrent_anonymous_queries > self.max_concurrent_public_queries {
            return Err(format!(
                "catalog.max_concurrent_anonymous_queries ({}) must be at most catalog.max_concurrent_public_queries ({})",
                self.max_concurrent_anonymous_queries, self.max_concurrent_public_queries
            ));
        }
        Ok(())
    }
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogSettings {
            governance_url: "http://127.0.0.1:50051".to_owned(),
            auth_cache_ttl_secs: 30,
            query_timeout_secs: QUERY_SECONDS_KEY.value,
            token_query_timeout_secs: QUERY_SECONDS_TOKEN.value,
            anonymous_query_timeout_secs: QUERY_SECONDS_ANONYMOUS.value,
            chunk_bytes: 64 * 1024,
            max_concurrent_queries: QUERY_CONNECTIONS.value as u32,
            max_concurrent_public_queries: PUBLIC_QUERIES.value as u32,
            max_concurrent_anonymous_queries: ANONYMOUS_QUERIES.value as u32,
            max_concurrent_queries_per_principal: QUERIES_PER_PRINCIPAL.value as u32,
            expensive_query_cost: 10_000.0,
            max_concurrent_expensive_public_queries: EXPENSIVE_PUBLIC_QUERIES.value as u32,
        }
    }
}

/// Configuration of `opendata serve catalog`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
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
    pub catalog: CatalogSettings,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50052)),
            drain_secs: 20,
            metrics_listen: None,
            tls: TlsConfig::default(),
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            telemetry: TelemetryConfig::default(),
            catalog: CatalogSettings::default(),
        }
    }
}
