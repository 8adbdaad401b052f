//! The whole portal in one process: governance, catalog, ingestion, search, incentives and the
//! edge, each on its own listener, wired to each other through their bound addresses. `opendata
//! up` runs it; tests run it on port 0 with a fresh database and NATS prefix.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use opendata_catalog::CatalogService;
use opendata_catalog::config::CatalogSettings;
use opendata_edge::config::EdgeSettings;
use opendata_edge::state::{EdgeChannels, EdgeState};
use opendata_governance::GovernanceService;
use opendata_governance::config::GovernanceSettings;
use opendata_incentives::IncentivesService;
use opendata_incentives::config::IncentivesSettings;
use opendata_ingestion::IngestionService;
use opendata_ingestion::config::IngestionSettings;
use opendata_platform::channels::channel;
use opendata_platform::clock::{Clock, SystemClock};
use opendata_platform::config::{DatabaseConfig, NatsConfig, TelemetryConfig};
use opendata_platform::events::EventBus;
use opendata_platform::grpc::Serving;
use opendata_platform::shutdown::Shutdown;
use opendata_search::config::SearchSettings;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Addresses the services listen on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// Governance gRPC.
    pub governance: SocketAddr,
    /// Catalog gRPC.
    pub catalog: SocketAddr,
    /// Ingestion gRPC.
    pub ingestion: SocketAddr,
    /// Search gRPC.
    pub search: SocketAddr,
    /// Incentives gRPC.
    pub incentives: SocketAddr,
    /// Public REST.
    pub edge: SocketAddr,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            governance: SocketAddr::from(([127, 0, 0, 1], 50051)),
            catalog: SocketAddr::from(([127, 0, 0, 1], 50052)),
            ingestion: SocketAddr::from(([127, 0, 0, 1], 50053)),
            search: SocketAddr::from(([127, 0, 0, 1], 50054)),
            incentives: SocketAddr::from(([127, 0, 0, 1], 50055)),
            edge: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

/// Configuration of `opendata up`: shared infrastructure plus each service's settings. Service
/// URLs inside the settings are replaced by the addresses actually bound.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StackConfig {
    /// Listen addresses (port 0 picks a free port).
    pub listen: Listen,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub drain_secs: u64,
    /// Where Prometheus scrapes `/metrics` for every service (not served when unset).
    pub metrics_listen: Option<SocketAddr>,
    /// PostgreSQL (one database; each service uses its own schema).
    pub database: DatabaseConfig,
    /// NATS JetStream.
    pub nats: NatsConfig,
    /// Logging and tracing.
    pub telemetry: TelemetryConfig,
    /// Governance settings.
    pub governance: GovernanceSettings,
    /// Catalog settings.
    pub catalog: CatalogSettings,
    /// Ingestion settings.
    pub ingestion: IngestionSettings,
    /// Search settings.
    pub search: SearchSettings,
    /// Incentives settings.
    pub incentives: IncentivesSettings,
    /// Edge settings.
    pub edge: EdgeSettings,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            listen: Listen::default(),
            drain_secs: 20,
            metrics_listen: None,
            database: DatabaseConfig::default(),
            nats: NatsConfig::default(),
            telemetry: TelemetryConfig::default(),
            governance: GovernanceSettings::default(),
            catalog: CatalogSettings::default(),
            ingestion: IngestionSettings::default(),
            search: SearchSettings::default(),
            incentives: IncentivesSettings::default(),
            edge: EdgeSettings::default(),
        }
    }
}

/// Errors starting the stack.
pub type StackError = Box<dyn std::error::Error + Send + Sync>;

/// A running stack.
pub struct Stack {
    /// Where each service listens.
    pub addresses: Listen,
    /// Every service but search, by name (see [`Stack::wait`]).
    services: Vec<(&'static str, JoinHandle<Result<(), StackError>>)>,
    search: SearchRunner,
    shutdown: Shutdown,
}

/// The search service, which can stop and start on its own address while the rest keeps running,
/// as it does when its pod restarts.
struct SearchRunner {
    settings: SearchSettings,
    nats: NatsConfig,
    grace: Duration,
    parent: Shutdown,
    shutdown: Shutdown,
    task: Option<JoinHandle<Result<(), StackError>>>,
}

impl SearchRunner {
    async fn start(&mut self, listener: TcpListener) -> Result<(), StackError> {
        let bus = EventBus::connect(&self.nats, "opendata-search").await?;
        self.shutdown = self.parent.child();
        self.task = Some(tokio::spawn(opendata_search::serve(
            self.settings.clone(),
            bus,
            listener,
            self.shutdown.clone(),
            Serving::plaintext(self.grace),
        )));
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), StackError> {
        self.shutdown.trigger();
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Stack {
    /// Migrates the database, binds every listener and starts every service.
    pub async fn start(config: StackConfig, shutdown: Shutdown) -> Result<Stack, StackError> {
        Stack::start_with_clock(config, shutdown, Arc::new(SystemClock)).await
    }

    /// [`Stack::start`] with governance and incentives going by `clock` (tests move it to show
    /// freshness, retirement and job obligations).
    pub async fn start_with_clock(
        mut config: StackConfig,
        shutdown: Shutdown,
        clock: Arc<dyn Clock>,
    ) -> Result<Stack, StackError> {
        config.nats.validate()?;
        let grace = Duration::from_secs(config.drain_secs);
        let governance_pool =
            opendata_platform::db::connect(&config.database, opendata_governance::SCHEMA).await?;
        let ingestion_pool =
            opendata_platform::db::connect(&config.database, opendata_ingestion::SCHEMA).await?;
        let catalog_pool =
            opendata_platform::db::connect(&config.database, opendata_catalog::SCHEMA).await?;
        opendata_governance::migrate(&governance_pool).await?;
        opendata_ingestion::migrate(&ingestion_pool).await?;
        opendata_catalog::migrate(&catalog_pool).await?;
        let incentives_pool =
            opendata_platform::db::connect(&config.database, opendata_incentives::SCHEMA).await?;
        opendata_incentives::migrate(&incentives_pool).await?;

        let governance_listener = TcpListener::bind(config.listen.governance).await?;
        let catalog_listener = TcpListener::bind(config.listen.catalog).await?;
        let ingestion_listener = TcpListener::bind(config.listen.ingestion).await?;
        let search_listener = TcpListener::bind(config.listen.search).await?;
        let incentives_listener = TcpListener::bind(config.listen.incentives).await?;
        let edge_listener = TcpListener::bind(config.listen.edge).await?;
        let addresses = Listen {
            governance: governance_listener.local_addr()?,
            catalog: catalog_listener.local_addr()?,
            ingestion: ingestion_listener.local_addr()?,
            search: search_listener.local_addr()?,
            incentives: incentives_listener.local_addr()?,
            edge: edge_listener.local_addr()?,
        };
        let governance_url = format!("http://{}", addresses.governance);
        let catalog_url = format!("http://{}", addresses.catalog);
        config.catalog.governance_url = governance_url.clone();
        config.governance.catalog_url = catalog_url.clone();
        config.governance.ingestion_url = format!("http://{}", addresses.ingestion);
        config.ingestion.governance_url = governance_url.clone();
        config.ingestion.catalog_url = catalog_url.clone();
        config.search.governance_url = governance_url.clone();
        config.search.catalog_url = catalog_url.clone();
        config.search.incentives_url = format!("http://{}", addresses.incentives);
        config.search.incentives_agency_id = config.incentives.agency_id.clone();
        config.edge.search_url = format!("http://{}", addresses.search);
        config.edge.incentives_url = format!("http://{}", addresses.incentives);
        config.incentives.governance_url = governance_url.clone();
        config.incentives.catalog_url = catalog_url.clone();
        config.incentives.ingestion_url = format!("http://{}", addresses.ingestion);
        config.incentives.search_url = format!("http://{}", addresses.search);
        config.edge.governance_url = governance_url;
        if config.edge.public_url.is_empty() {
            config.edge.public_url = format!("http://{}", addresses.edge);
        }
        config.edge.catalog_url = catalog_url;
        config.edge.ingestion_url = format!("http://{}", addresses.ingestion);

        let governance_bus = EventBus::connect(&config.nats, "opendata-governance").await?;
        let catalog_bus = EventBus::connect(&config.nats, "opendata-catalog").await?;
        let ingestion_bus = EventBus::connect(&config.nats, "opendata-ingestion").await?;
        let incentives_bus = EventBus::connect(&config.nats, "opendata-incentives").await?;
        let edge_state = EdgeState::new(
            EdgeChannels {
                catalog: channel(&config.edge.catalog_url)?,
                governance: channel(&config.edge.governance_url)?,
                search: channel(&config.edge.search_url)?,
                incentives: channel(&config.edge.incentives_url)?,
                ingestion: channel(&config.edge.ingestion_url)?,
            },
            config.edge.clone(),
        );

        let services = vec![
            (
                "governance",
                tokio::spawn(opendata_governance::serve(
                    GovernanceService {
                        pool: governance_pool,
                        bus: governance_bus,
                        settings: config.governance,
                        clock: clock.clone(),
                    },
                    governance_listener,
                    shutdown.clone(),
                    Serving::plaintext(grace),
                )),
            ),
            (
                "catalog",
                tokio::spawn(opendata_catalog::serve(
                    CatalogService {
                        pool: catalog_pool,
                        bus: catalog_bus,
                        settings: config.catalog,
                    },
                    catalog_listener,
                    shutdown.clone(),
                    Serving::plaintext(grace),
                )),
            ),
            (
                "ingestion",
                tokio::spawn(opendata_ingestion::serve(
                    IngestionService {
                        pool: ingestion_pool,
                        bus: ingestion_bus,
                        settings: config.ingestion,
                    },
                    ingestion_listener,
                    shutdown.clone(),
                    Serving::plaintext(grace),
                )),
            ),
            (
                "incentives",
                tokio::spawn(opendata_incentives::serve(
                    IncentivesService {
                        pool: incentives_pool,
                        bus: incentives_bus,
                        settings: config.incentives,
                        clock,
                    },
                    incentives_listener,
                    shutdown.clone(),
                    Serving::plaintext(grace),
                )),
            ),
            (
                "edge",
                tokio::spawn({
                    let shutdown = shutdown.clone();
                    async move {
                        opendata_edge::serve(edge_state, edge_listener, shutdown, grace).await?;
                        Ok(())
                    }
                }),
            ),
        ];
        let mut search = SearchRunner {
            settings: config.search,
            nats: config.nats,
            grace,
            shutdown: shutdown.child(),
            parent: shutdown.clone(),
            task: None,
        };
        search.start(search_listener).await?;
        Ok(Stack {
            addresses,
            services,
            search,
            shutdown,
        })
    }

    /// Stops the search service alone; the rest of the portal keeps running.
    pub async fn stop_search(&mut self) -> Result<(), StackError> {
        self.search.stop().await
    }

    /// Starts the search service again on its address, after [`Stack::stop_search`].
    pub async fn start_search(&mut self) -> Result<(), StackError> {
        let listener = TcpListener::bind(self.addresses.search).await?;
        self.search.start(listener).await
    }

    /// Runs until every service has stopped. The first service to stop, whether it failed or not,
    /// stops the others (the process is one unit for its supervisor); returns the first failure,
    /// so `opendata up` exits non-zero and is restarted.
    pub async fn wait(self) -> Result<(), StackError> {
        let Stack {
            services,
            search,
            shutdown,
            ..
        } = self;
        let mut running: FuturesUnordered<_> = services
            .into_iter()
            .chain(search.task.map(|task| ("search", task)))
            .map(|(name, task)| async move { (name, task.await) })
            .collect();
        let mut first_error: Option<StackError> = None;
        while let Some((name, joined)) = running.next().await {
            let outcome = match joined {
                Ok(Ok(())) if shutdown.is_triggered() => Ok(()),
                Ok(Ok(())) => Err(format!("{name} stopped on its own").into()),
                Ok(Err(error)) => Err(error),
                Err(join) => Err(format!("{name}: {join}").into()),
            };
            if let Err(error) = outcome {
                tracing::error!(service = name, %error, "service stopped, stopping the portal");
                first_error.get_or_insert(error);
            }
            shutdown.trigger();
        }
        first_error.map_or(Ok(()), Err)
    }
}
