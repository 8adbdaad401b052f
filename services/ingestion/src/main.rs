//! `opendata-ingestion`: the ingestion service on its own.

use std::path::PathBuf;
use std::time::Duration;

use opendata_ingestion::IngestionService;
use opendata_ingestion::config::IngestionConfig;
use opendata_platform::events::EventBus;
use opendata_platform::shutdown::Shutdown;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config_file = std::env::var_os("OPENDATA_CONFIG").map(PathBuf::from);
    let mut config: IngestionConfig = opendata_platform::config::load(config_file.as_deref())?;
    config.nats.validate()?;
    config.telemetry.otlp_endpoint = config
        .telemetry
        .otlp_endpoint
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok());
    let _telemetry = opendata_platform::telemetry::init("opendata-ingestion", &config.telemetry)?;

    let pool = opendata_platform::db::connect(&config.database, opendata_ingestion::SCHEMA).await?;
    opendata_ingestion::migrate(&pool).await?;
    let bus = EventBus::connect(&config.nats, "opendata-ingestion").await?;

    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(address = %config.listen, "ingestion listening");
    let service = IngestionService {
        pool,
        bus,
        settings: config.ingestion,
    };
    opendata_ingestion::serve(
        service,
        listener,
        shutdown,
        Duration::from_secs(config.drain_secs),
    )
    .await
}
