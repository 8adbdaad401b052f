//! `opendata-incentives`: the incentives service on its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opendata_incentives::IncentivesService;
use opendata_incentives::config::IncentivesConfig;
use opendata_platform::clock::SystemClock;
use opendata_platform::events::EventBus;
use opendata_platform::shutdown::Shutdown;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config_file = std::env::var_os("OPENDATA_CONFIG").map(PathBuf::from);
    let mut config: IncentivesConfig = opendata_platform::config::load(config_file.as_deref())?;
    config.nats.validate()?;
    config.telemetry.otlp_endpoint = config
        .telemetry
        .otlp_endpoint
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok());
    let _telemetry = opendata_platform::telemetry::init("opendata-incentives", &config.telemetry)?;

    let pool =
        opendata_platform::db::connect(&config.database, opendata_incentives::SCHEMA).await?;
    opendata_incentives::migrate(&pool).await?;
    let bus = EventBus::connect(&config.nats, "opendata-incentives").await?;

    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(address = %config.listen, "incentives listening");
    let service = IncentivesService {
        pool,
        bus,
        settings: config.incentives,
        clock: Arc::new(SystemClock),
    };
    opendata_incentives::serve(
        service,
        listener,
        shutdown,
        Duration::from_secs(config.drain_secs),
    )
    .await
}
