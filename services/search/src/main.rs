//! `opendata-search`: the search service on its own.

use std::path::PathBuf;
use std::time::Duration;

use opendata_platform::events::EventBus;
use opendata_platform::shutdown::Shutdown;
use opendata_search::config::SearchConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config_file = std::env::var_os("OPENDATA_CONFIG").map(PathBuf::from);
    let mut config: SearchConfig = opendata_platform::config::load(config_file.as_deref())?;
    config.nats.validate()?;
    config.telemetry.otlp_endpoint = config
        .telemetry
        .otlp_endpoint
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok());
    let _telemetry = opendata_platform::telemetry::init("opendata-search", &config.telemetry)?;

    let bus = EventBus::connect(&config.nats, "opendata-search").await?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(address = %config.listen, "search listening");
    opendata_search::serve(
        config.search,
        bus,
        listener,
        shutdown,
        Duration::from_secs(config.drain_secs),
    )
    .await
}
