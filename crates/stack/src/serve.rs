//! `opendata serve <component>`: one service per process, as Kubernetes runs them. Each component
//! reads its own configuration (serde defaults, then the TOML file, then `OPENDATA_*` variables),
//! migrates its schema when it owns one, and serves until SIGTERM, draining for `drain_secs`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use opendata_catalog::CatalogService;
use opendata_catalog::config::CatalogConfig;
use opendata_edge::config::EdgeConfig;
use opendata_edge::state::{EdgeChannels, EdgeState};
use opendata_governance::GovernanceService;
use opendata_governance::config::GovernanceConfig;
use opendata_incentives::IncentivesService;
use opendata_incentives::config::IncentivesConfig;
use opendata_ingestion::IngestionService;
use opendata_ingestion::config::IngestionConfig;
use opendata_platform::channels::channel;
use opendata_platform::clock::SystemClock;
use opendata_platform::config::{NatsConfig, TelemetryConfig, TlsConfig};
use opendata_platform::events::EventBus;
use opendata_platform::grpc::Serving;
use opendata_platform::metrics;
use opendata_platform::shutdown::Shutdown;
use opendata_platform::telemetry::TelemetryGuard;
use opendata_search::config::SearchConfig;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use crate::StackError;

/// A service `opendata serve` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Component {
    /// Identity, keys, agencies, the inventory and its review (gRPC).
    Governance,
    /// Datasets, versions and row queries (gRPC).
    Catalog,
    /// Uploads and their validation (gRPC).
    Ingestion,
    /// Full-text search over the published datasets (gRPC).
    Search,
    /// DECD's economic assistance and tax credits (gRPC).
    Incentives,
    /// The public REST API and web pages (HTTP).
    Edge,
}

impl Component {
    /// Its name in logs, traces and consumer names.
    pub fn service_name(self) -> &'static str {
        match self {
            Component::Governance => "opendata-governance",
            Component::Catalog => "opendata-catalog",
            Component::Ingestion => "opendata-ingestion",
            Component::Search => "opendata-search",
            Component::Incentives => "opendata-incentives",
            Component::Edge => "opendata-edge",
        }
    }
}

/// Runs `component` until SIGTERM or until one of its tasks fails.
pub async fn serve(component: Component, config_file: Option<&Path>) -> Result<(), StackError> {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let db = opendata_platform::db::connect;
    match component {
        Component::Governance => {
            let config: GovernanceConfig = load(config_file)?;
            let _telemetry = start(component, &config.telemetry, &config.nats)?;
            let serving = tls(&config.tls, config.drain_secs)?;
            let pool = db(&config.database, opendata_governance::SCHEMA).await?;
            opendata_governance::migrate(&pool).await?;
            let service = GovernanceService {
                pool,
                bus: EventBus::connect(&config.nats, component.service_name()).await?,
                settings: config.governance,
                clock: Arc::new(SystemClock),
            };
            let ports = (config.listen, config.metrics_listen);
            listen_and_serve(component, ports, &shutdown, |listener| {
                opendata_governance::serve(service, listener, shutdown.clone(), serving)
            })
            .await
        }
        Component::Catalog => {
            let config: CatalogConfig = load(config_file)?;
            let _telemetry = start(component, &config.telemetry, &config.nats)?;
            let serving = tls(&config.tls, config.drain_secs)?;
            let pool = db(&config.database, opendata_catalog::SCHEMA).await?;
            opendata_catalog::migrate(&pool).await?;
            let service = CatalogService {
                pool,
                bus: EventBus::connect(&config.nats, component.service_name()).await?,
                settings: config.catalog,
            };
            let ports = (config.listen, config.metrics_listen);
            listen_and_serve(component, ports, &shutdown, |listener| {
                opendata_catalog::serve(service, listener, shutdown.clone(), serving)
            })
            .await
        }
        Component::Ingestion => {
            let config: IngestionConfig = load(config_file)?;
            let _telemetry = start(component, &config.telemetry, &config.nats)?;
            let serving = tls(&config.tls, config.drain_secs)?;
            let pool = db(&config.database, opendata_ingestion::SCHEMA).await?;
            opendata_ingestion::migrate(&pool).await?;
            let service = IngestionService {
                pool,
                bus: EventBus::connect(&config.nats, component.service_name()).await?,
                settings: config.ingestion,
            };
            let ports = (config.listen, config.metrics_listen);
            listen_and_serve(component, ports, &shutdown, |listener| {
                opendata_ingestion::serve(service, listener, shutdown.clone(), serving)
            })
            .await
        }
        Component::Search => {
            let config: SearchConfig = load(config_file)?;
            let _telemetry = start(component, &config.telemetry, &config.nats)?;
            let serving = tls(&config.tls, config.drain_secs)?;
            let bus = EventBus::connect(&config.nats, component.service_name()).await?;
            let ports = (config.listen, config.metrics_listen);
            listen_and_serve(component, ports, &shutdown, |listener| {
                opendata_search::serve(config.search, bus, listener, shutdown.clone(), serving)
            })
            .await
        }
        Component::Incentives => {
            let config: IncentivesConfig = load(config_file)?;
            let _telemetry = start(component, &config.telemetry, &config.nats)?;
            let serving = tls(&config.tls, config.drain_secs)?;
            let pool = db(&config.database, opendata_incentives::SCHEMA).await?;
            opendata_incentives::migrate(&pool).await?;
            let service = IncentivesService {
                pool,
                bus: EventBus::connect(&config.nats, component.service_name()).await?,
                settings: config.incentives,
                clock: Arc::new(SystemClock),
            };
            let ports = (config.listen, config.metrics_listen);
            listen_and_serve(component, ports, &shutdown, |listener| {
                opendata_incentives::serve(service, listener, shutdown.clone(), serving)
            })
            .await
        }
        Component::Edge => {
            let mut config: EdgeConfig = load(config_file)?;
            let _telemetry = telemetry(component, &config.telemetry)?;
            if config.edge.public_url.is_empty() {
                config.edge.public_url = format!("http://{}", config.listen);
            }
            let state = EdgeState::new(
                EdgeChannels {
                    catalog: channel(&config.edge.catalog_url)?,
                    governance: channel(&config.edge.governance_url)?,
                    search: channel(&config.edge.search_url)?,
                    incentives: channel(&config.edge.incentives_url)?,
                    ingestion: channel(&config.edge.ingestion_url)?,
                },
                config.edge,
            );
            let grace = Duration::from_secs(config.drain_secs);
            let ports = (config.listen, config.metrics_listen);
            listen_and_serve(component, ports, &shutdown, |listener| {
                opendata_edge::serve(state, listener, shutdown.clone(), grace)
            })
            .await
        }
    }
}

/// Loads `component`'s configuration and checks what can be checked without its files and peers
/// (unknown keys, wrong types, contradictory limits), as `opendata serve --check-config` does.
pub fn check_config(component: Component, config_file: Option<&Path>) -> Result<(), StackError> {
    match component {
        Component::Governance => load::<GovernanceConfig>(config_file)?.nats.validate()?,
        Component::Catalog => {
            let config: CatalogConfig = load(config_file)?;
            config.nats.validate()?;
            config.catalog.validate()?;
        }
        Component::Ingestion => {
            let config: IngestionConfig = load(config_file)?;
            config.nats.validate()?;
            config.ingestion.validate()?;
        }
        Component::Search => load::<SearchConfig>(config_file)?.nats.validate()?,
        Component::Incentives => {
            let config: IncentivesConfig = load(config_file)?;
            config.nats.validate()?;
            config.incentives.validate()?;
        }
        Component::Edge => {
            load::<EdgeConfig>(config_file)?;
        }
    }
    Ok(())
}

fn load<T: DeserializeOwned>(config_file: Option<&Path>) -> Result<T, StackError> {
    Ok(opendata_platform::config::load(config_file)?)
}

/// What a gRPC component checks before connecting anywhere (its NATS settings), then logging and
/// tracing.
fn start(
    component: Component,
    telemetry_config: &TelemetryConfig,
    nats: &NatsConfig,
) -> Result<TelemetryGuard, StackError> {
    nats.validate()?;
    telemetry(component, telemetry_config)
}

fn telemetry(component: Component, config: &TelemetryConfig) -> Result<TelemetryGuard, StackError> {
    Ok(opendata_platform::telemetry::init(
        component.service_name(),
        config,
    )?)
}

/// The gRPC server's drain and TLS, its certificate read and checked now.
fn tls(tls: &TlsConfig, drain_secs: u64) -> Result<Serving, StackError> {
    Ok(Serving::new(Duration::from_secs(drain_secs), tls)?)
}

/// Binds the component's listener (`ports.0`), then runs what `serve` makes of it, with
/// Prometheus' `/metrics` on `ports.1` alongside.
async fn listen_and_serve<F, Fut, E>(
    component: Component,
    ports: (SocketAddr, Option<SocketAddr>),
    shutdown: &Shutdown,
    serve: F,
) -> Result<(), StackError>
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<StackError>,
{
    let (listen, metrics_listen) = ports;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    // The address bound (a port 0 becomes the one the system chose).
    let address = listener.local_addr()?;
    tracing::info!(component = component.service_name(), %address, "listening");
    with_metrics(metrics_listen, shutdown, Box::pin(serve(listener))).await
}

/// Runs `service`, with Prometheus' `/metrics` on `metrics_listen` while it runs.
pub async fn with_metrics<F, E>(
    metrics_listen: Option<SocketAddr>,
    shutdown: &Shutdown,
    service: F,
) -> Result<(), StackError>
where
    F: Future<Output = Result<(), E>>,
    E: Into<StackError>,
{
    let exporter = match metrics_listen {
        Some(address) => {
            let listener = metrics::bind(address).await?;
            let address = listener.local_addr()?;
            tracing::info!(%address, "metrics listening");
            Some(tokio::spawn(metrics::serve(listener, shutdown.clone())))
        }
        None => None,
    };
    let result = service.await.map_err(Into::into);
    if let Some(exporter) = exporter {
        exporter.abort();
    }
    result
}
