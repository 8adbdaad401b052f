//! `opendata-governance`: the governance service on its own.

use std::path::PathBuf;
use std::time::Duration;

use opendata_governance::config::GovernanceConfig;
use opendata_governance::identity::Identity;
use opendata_platform::shutdown::Shutdown;
use secrecy::ExposeSecret;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config_file = std::env::var_os("OPENDATA_CONFIG").map(PathBuf::from);
    let mut config: GovernanceConfig = opendata_platform::config::load(config_file.as_deref())?;
    config.telemetry.otlp_endpoint = config
        .telemetry
        .otlp_endpoint
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok());
    let _telemetry = opendata_platform::telemetry::init("opendata-governance", &config.telemetry)?;

    let pool =
        opendata_platform::db::connect(&config.database, opendata_governance::SCHEMA).await?;
    opendata_governance::migrate(&pool).await?;
    let bootstrap = config
        .governance
        .bootstrap_admin_key
        .as_ref()
        .map(|key| key.expose_secret().to_owned());
    let identity = Identity::new(pool, bootstrap.as_deref());

    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(address = %config.listen, "governance listening");
    opendata_governance::serve(
        identity,
        listener,
        shutdown,
        Duration::from_secs(config.drain_secs),
    )
    .await?;
    Ok(())
}
