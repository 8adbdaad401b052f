//! `opendata-edge`: the public REST API on its own.

use std::path::PathBuf;
use std::time::Duration;

use opendata_edge::config::EdgeConfig;
use opendata_edge::state::{EdgeChannels, EdgeState};
use opendata_platform::grpc::channel;
use opendata_platform::shutdown::Shutdown;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config_file = std::env::var_os("OPENDATA_CONFIG").map(PathBuf::from);
    let mut config: EdgeConfig = opendata_platform::config::load(config_file.as_deref())?;
    config.telemetry.otlp_endpoint = config
        .telemetry
        .otlp_endpoint
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok());
    let _telemetry = opendata_platform::telemetry::init("opendata-edge", &config.telemetry)?;
    if config.edge.public_url.is_empty() {
        config.edge.public_url = format!("http://{}", config.listen);
    }
    let state = EdgeState::new(
        EdgeChannels {
            catalog: channel(&config.edge.catalog_url)?,
            governance: channel(&config.edge.governance_url)?,
            search: channel(&config.edge.search_url)?,
            incentives: channel(&config.edge.incentives_url)?,
        },
        config.edge,
    );
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(address = %config.listen, "edge listening");
    opendata_edge::serve(
        state,
        listener,
        shutdown,
        Duration::from_secs(config.drain_secs),
    )
    .await?;
    Ok(())
}
