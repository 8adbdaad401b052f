//! The ingestion service: agencies push CSV files over gRPC; rows are parsed, coerced to the
//! dataset's column types and loaded with `COPY` into a new version table, rejected rows are
//! reported, and a commit makes the version current through the catalog.

// A service crate: an item whose name says what it is goes without a doc comment (library
// crates under crates/ keep `missing_docs`).
#![allow(missing_docs)]

pub mod commit;
#[warn(missing_docs)]
pub mod config;
#[warn(missing_docs)]
pub mod error;
pub mod events;
pub mod grpc;
pub mod janitor;
pub mod model;
pub mod pipeline;
pub mod retention;
pub mod service;
pub mod store;
pub mod upsert;

use std::sync::Arc;
use std::time::Duration;

use opendata_platform::auth::Authenticator;
use opendata_platform::channels::channel;
use opendata_platform::events::{EventBus, Relay, run_consumer};
use opendata_platform::grpc::{MAX_MESSAGE_BYTES, Serving};
use opendata_platform::health::Health;
use opendata_platform::metrics::pool_probe;
use opendata_platform::shutdown::Shutdown;
use opendata_platform::tasks::Tasks;
use opendata_proto::ingestion::v1::ingestion_service_server::IngestionServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;

use crate::config::IngestionSettings;
use crate::events::{DOMAIN, RETIRE_CONSUMER, VersionRetirer};
use crate::grpc::IngestionApi;
use crate::janitor::clean_up;
use crate::service::Ingestion;

/// The database schema ingestion owns (dataset tables live in `data`, also created here).
pub const SCHEMA: &str = "ingestion";

/// Ingestion's own migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the schemas and applies the migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    opendata_platform::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Everything ingestion needs to run.
pub struct IngestionService {
    /// Its database pool (search path: the ingestion schema).
    pub pool: PgPool,
    /// The event bus.
    pub bus: EventBus,
    pub settings: IngestionSettings,
}

/// Serves ingestion on `listener`, relays its outbox, retires replaced versions and cleans up,
/// until `shutdown`; then drains for at most `serving.grace`.
pub async fn serve(
    service: IngestionService,
    listener: TcpListener,
    shutdown: Shutdown,
    serving: Serving,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let IngestionService {
        pool,
        bus,
        settings,
    } = service;
    settings.validate()?;
    let auth = Arc::new(Authenticator::new(
        channel(&settings.governance_url)?,
        Duration::from_secs(settings.auth_cache_ttl_secs),
    ));
    let copy_pool = PgPoolOptions::new()
        .max_connections(settings.max_concurrent_loads.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with((*pool.connect_options()).clone());
    let _pools = [
        pool_probe(DOMAIN, "main", pool.clone()),
        pool_probe(DOMAIN, "loads", copy_pool.clone()),
    ];
    let ingestion = Ingestion::new(
        pool.clone(),
        copy_pool,
        auth,
        channel(&settings.catalog_url)?,
        settings.clone(),
    );
    let mut tasks = Tasks::new(DOMAIN, Health::new(), &shutdown);
    tasks.spawn(
        "outbox relay",
        Relay::new(pool.clone(), bus.clone(), DOMAIN, tasks.health()).run(tasks.shutdown()),
    );
    tasks.spawn(
        "version retirer",
        run_consumer(
            bus,
            "catalog",
            "dataset_data_updated",
            RETIRE_CONSUMER,
            VersionRetirer::new(pool.clone()),
            tasks.shutdown(),
        ),
    );
    let interval = Duration::from_secs(settings.janitor_interval_secs.max(1));
    tasks.spawn_every("janitor", interval, move || {
        let (pool, settings) = (pool.clone(), settings.clone());
        async move { clean_up(&pool, &settings).await }
    });

    let api = IngestionServiceServer::new(IngestionApi::new(ingestion))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    opendata_platform::grpc::serve(api, listener, tasks, serving).await?;
    Ok(())
}
