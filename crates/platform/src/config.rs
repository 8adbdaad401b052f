//! Layered configuration: serde defaults, then an optional TOML file, then `OPENDATA_*`
//! environment variables (nested keys joined by `__`: `OPENDATA_DATABASE__URL`).
//!
//! Only binaries call [`load`]; libraries receive their configuration as values.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Prefix of every environment variable the services read.
pub const ENV_PREFIX: &str = "OPENDATA_";

/// `OPENDATA_*` variables that belong to the command-line tool, the tests and `make run`, not to
/// a service's configuration; services ignore them instead of refusing them as unknown keys.
const OTHER_TOOLS_VARIABLES: &[&str] = &[
    "config",
    "key",
    "governance_url",
    "catalog_url",
    "ingestion_url",
    "search_url",
    "incentives_url",
    "ca_file",
    "publisher_key",
];
const OTHER_TOOLS_PREFIXES: &[&str] = &["test_", "run_"];

/// Whether the services read the environment variable `name` (`OPENDATA_…`) as configuration:
/// not one of the command-line tool's, the tests', `make run`'s, nor a Kubernetes service link.
pub fn read_by_services(name: &str) -> bool {
    name.strip_prefix(ENV_PREFIX)
        .is_some_and(belongs_to_services)
}

fn belongs_to_services(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !OTHER_TOOLS_VARIABLES.contains(&key.as_str())
        && !OTHER_TOOLS_PREFIXES
            .iter()
            .any(|prefix| key.starts_with(prefix))
        && !is_service_link(&key)
}

/// Whether `key` (lowercase, after the prefix) is one of the variables Kubernetes injects into
/// every pod for every Service of its namespace: `{NAME}_SERVICE_HOST`,
/// `{NAME}_SERVICE_PORT[_{PORT}]`, `{NAME}_PORT` and `{NAME}_PORT_{N}_{PROTOCOL}[_PROTO|_PORT|_ADDR]`.
/// A Service named `opendata-…` (the chart's own, or another release's) gives `OPENDATA_…`
/// ones; they are not configuration, whose nested keys are joined by `__`.
fn is_service_link(key: &str) -> bool {
    if key.contains("__") {
        return false;
    }
    if key.ends_with("_service_host") || key.contains("_service_port") || key.ends_with("_port") {
        return true;
    }
    let words: Vec<&str> = key.split('_').collect();
    words.windows(3).any(|window| {
        window[0] == "port"
            && !window[1].is_empty()
            && window[1].bytes().all(|b| b.is_ascii_digit())
            && matches!(window[2], "tcp" | "udp" | "sctp")
    })
}

/// A configuration that could not be loaded; the message names the bad key and its source.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// A validation failure found after loading, naming the key.
    pub fn invalid(key: &str, reason: impl std::fmt::Display) -> Self {
        ConfigError(format!("`{key}`: {reason}"))
    }
}

/// Loads `T` from its serde defaults, then `file` (when given), then the environment.
pub fn load<T: DeserializeOwned>(file: Option<&Path>) -> Result<T, ConfigError> {
    let mut figment = Figment::new();
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError(format!(
                "configuration file {} does not exist",
                file.display()
            )));
        }
        figment = figment.merge(Toml::file(file));
    }
    figment
        .merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| belongs_to_services(key.as_str()))
                .split("__"),
        )
        .extract()
        .map_err(|error| ConfigError(error.to_string()))
}

/// Where a service's PostgreSQL database is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL connection URL; may carry a password, so it is kept secret.
    pub url: SecretString,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before failing a request.
    pub acquire_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432/opendata"),
            max_connections: 10,
            acquire_timeout_secs: 10,
        }
    }
}

/// Where NATS JetStream is, and the prefix that keeps this deployment's names apart.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// NATS server URL.
    pub url: String,
    /// Prefix for every subject, stream and consumer name (`[a-z0-9_]*`); empty for none.
    pub prefix: String,
    /// Copies JetStream keeps of each stream the services create: 1 on a single server, 3 on a
    /// NATS cluster (at most 5, JetStream's own limit).
    pub stream_replicas: usize,
    /// A NATS credentials file (user JWT and NKey seed, as `nsc` writes them); none for servers
    /// without accounts (a URL's `user:password@` also works).
    pub credentials_file: Option<PathBuf>,
    /// PEM CA certificates to trust for the server's TLS certificate, besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Refuse to connect without TLS (also implied by a `tls://` URL).
    pub tls_required: bool,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".to_owned(),
            prefix: String::new(),
            stream_replicas: 1,
            credentials_file: None,
            ca_file: None,
            tls_required: false,
        }
    }
}

impl NatsConfig {
    /// Checks the prefix is safe to use in subjects and stream names, and the replicas are ones
    /// JetStream keeps (the files it names are read on connecting).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=5).contains(&self.stream_replicas) {
            return Err(ConfigError::invalid(
                "nats.stream_replicas",
                "JetStream keeps 1 to 5 copies of a stream",
            ));
        }
        if self
            .prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                "nats.prefix",
                "use only lowercase letters, digits and underscores",
            ))
        }
    }
}

/// TLS for a gRPC server: PEM files, as a Kubernetes TLS Secret holds them (`tls.crt` with the
/// chain, `tls.key`). Both or neither; with neither the server speaks plaintext (inside the
/// cluster, or behind an ingress that terminates TLS).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// The certificate chain.
    pub cert_file: Option<PathBuf>,
    /// The private key.
    pub key_file: Option<PathBuf>,
}

/// Logging and tracing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// `tracing` filter directives (`info`, `opendata_ingestion=debug,info`).
    pub log_filter: String,
    /// Log lines as JSON instead of text.
    pub log_json: bool,
    /// OTLP gRPC endpoint for traces (`http://collector:4317`); no export when unset. The binaries
    /// also honour the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            log_filter: "info".to_owned(),
            log_json: false,
            otlp_endpoint: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[derive(Debug, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        database: DatabaseConfig,
        nats: NatsConfig,
    }

    #[test]
    fn file_values_override_defaults_and_unknown_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("opendata-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "[nats]\nprefix = \"t1\"\n").unwrap();
        let sample: Sample = load(Some(&good)).unwrap();
        assert_eq!(sample.nats.prefix, "t1");
        assert_eq!(sample.nats.url, "nats://127.0.0.1:4222");
        assert!(
            sample
                .database
                .url
                .expose_secret()
                .starts_with("postgres://")
        );

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[nats]\nprefx = \"t1\"\n").unwrap();
        let error = load::<Sample>(Some(&bad)).unwrap_err().to_string();
        assert!(error.contains("prefx"), "{error}");
    }

    #[test]
    fn variables_of_other_tools_are_not_configuration() {
        assert!(!belongs_to_services("KEY"));
        assert!(!belongs_to_services("test_database_url"));
        assert!(!belongs_to_services("RUN_DATABASE"));
        assert!(belongs_to_services("DATABASE__URL"));
        assert!(belongs_to_services("DRAIN_SECS"));
    }

    #[test]
    fn variables_kubernetes_injects_for_services_are_not_configuration() {
        for injected in [
            "CATALOG_SERVICE_HOST",
            "CATALOG_SERVICE_PORT",
            "CATALOG_SERVICE_PORT_GRPC",
            "OPENDATA_CATALOG_PORT",
            "OPENDATA_CATALOG_PORT_50052_TCP",
            "OPENDATA_CATALOG_PORT_50052_TCP_PROTO",
            "OPENDATA_CATALOG_PORT_50052_TCP_PORT",
            "OPENDATA_CATALOG_PORT_50052_TCP_ADDR",
            "EDGE_PORT_8080_TCP_ADDR",
        ] {
            assert!(!belongs_to_services(injected), "{injected}");
        }
        for configuration in [
            "LISTEN__EDGE",
            "DATABASE__MAX_CONNECTIONS",
            "DRAIN_SECS",
            "EDGE__PUBLIC_URL",
        ] {
            assert!(belongs_to_services(configuration), "{configuration}");
        }
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let error = load::<Sample>(Some(Path::new("/nonexistent/opendata.toml"))).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/opendata.toml"));
    }

    #[test]
    fn stream_replicas_are_ones_jetstream_keeps() {
        for (replicas, valid) in [(0, false), (1, true), (3, true), (5, true), (6, false)] {
            let config = NatsConfig {
                stream_replicas: replicas,
                ..NatsConfig::default()
            };
            let outcome = config.validate();
            assert_eq!(outcome.is_ok(), valid, "{replicas}: {outcome:?}");
            if let Err(error) = outcome {
                assert!(
                    error.to_string().contains("nats.stream_replicas"),
                    "{error}"
                );
            }
        }
    }

    #[test]
    fn prefixes_with_dots_are_refused() {
        let config = NatsConfig {
            prefix: "a.b".into(),
            ..NatsConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
