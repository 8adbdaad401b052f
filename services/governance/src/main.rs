//! `opendata-governance`: the governance service on its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opendata_governance::GovernanceService;
use opendata_governance::config::GovernanceConfig;
use opendata_platform::clock::SystemClock;
use opendata_platform::events::EventBus;
use opendata_platform::shutdown::Shutdown;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config_file = std::env::var_os("OPENDATA_CONFIG").map(PathBuf::from);
    let mut config: GovernanceConfig = opendata_platform::config::load(config_file.as_deref())?;
    config.nats.validate()?;
    config.telemetry.otlp_endpoint = config
        .telemetry
        .otlp_endpoint
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok());
    let _telemetry = opendata_platform::telemetry::init("opendata-governance", &config.telemetry)?;

    let pool =
        opendata_platform::db::connect(&config.database, opendata_governance::SCHEMA).await?;
    opendata_governance::migrate(&pool).await?;
    let bus = EventBus::connect(&config.nats, "opendata-governance").await?;

    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(address = %config.listen, "governance listening");
    let service = GovernanceService {
        pool,
        bus,
        settings: config.governance,
        clock: Arc::new(SystemClock),
    };
    opendata_governance::serve(
        service,
        listener,
        shutdown,
        Duration::from_secs(config.drain_secs),
    )
    .await
}
