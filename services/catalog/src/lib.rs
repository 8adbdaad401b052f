//! The catalog service: datasets with their DCAT-US metadata, column schemas and versions, and the
//! row queries the public API serves. It makes ingestion's committed versions current, applies
//! governance's review decisions (what the public sees), and announces every change as a
//! `catalog.*` event.

// A service crate: an item whose name says what it is goes without a doc comment (library
// crates under crates/ keep `missing_docs`).
#![allow(missing_docs)]

pub mod catalog;
pub mod conditional;
#[warn(missing_docs)]
pub mod config;
pub mod convert;
pub mod dataset_ids;
pub mod diff;
#[warn(missing_docs)]
pub mod error;
pub mod events;
pub mod grpc;
pub mod model;
pub mod postgis;
pub mod purges;
pub mod review;
pub mod rows;
pub mod share;
pub mod store;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use opendata_platform::auth::Authenticator;
use opendata_platform::events::{EventBus, Relay, run_consumer};
use opendata_platform::grpc::MAX_MESSAGE_BYTES;
use opendata_platform::grpc::{ClientContext, Serving};
use opendata_platform::health::Health;
use opendata_platform::metrics::pool_probe;
use opendata_platform::shutdown::Shutdown;
use opendata_platform::tasks::Tasks;
use opendata_proto::catalog::v1::catalog_service_server::CatalogServiceServer;
use opendata_proto::governance::v1::identity_service_client::IdentityServiceClient;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;

use crate::catalog::Catalog;
use crate::config::CatalogSettings;
use crate::events::{DOMAIN, VERSION_CONSUMER, VersionActivator};
use crate::grpc::CatalogApi;
use crate::postgis::PostGis;
use crate::purges::{PURGE_CONSUMER, PurgeRecorder};
use crate::review::{REVIEW_CONSUMER, ReviewApplier};
use crate::share::{FairShare, ShareSettings};

/// How long a row query waits for its turn, all waits together (estimating its cost, its slots,
/// its connection), before it is told to retry.
const QUERY_ADMISSION_WAIT: Duration = Duration::from_secs(5);

/// Connections that estimate what public queries cost: more than one address may have in flight,
/// so no one caller can keep every estimate waiting.
const PLANNING_CONNECTIONS: u32 = 8;

/// The database schema the catalog owns.
pub const SCHEMA: &str = "catalog";

/// The catalog's own migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the schema and applies the migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    opendata_platform::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Everything the catalog needs to run.
pub struct CatalogService {
    /// Its database pool (search path: the catalog schema).
    pub pool: PgPool,
    /// The event bus.
    pub bus: EventBus,
    pub settings: CatalogSettings,
}

/// Serves the catalog on `listener`, relays its outbox and consumes ingestion's and governance's
/// events, until `shutdown` or until one of those tasks fails; then drains for at most `serving.grace`.
pub async fn serve(
    service: CatalogService,
    listener: TcpListener,
    shutdown: Shutdown,
    serving: Serving,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let CatalogService {
        pool,
        bus,
        settings,
    } = service;
    let governance = opendata_platform::channels::channel(&settings.governance_url)?;
    let identity =
        IdentityServiceClient::with_interceptor(governance.clone(), ClientContext::anonymous());
    let auth = Arc::new(Authenticator::new(
        governance,
        Duration::from_secs(settings.auth_cache_ttl_secs),
    ));
    settings.validate()?;
    let postgis = PostGis::detect(&pool).await?;
    // Row queries (and their plans) run with PostGIS on the search path when it is there.
    let row_connections = |max_connections: u32, acquire_timeout: Duration| {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(postgis.row_query_options((*pool.connect_options()).clone()))
    };
    let query_pool = row_connections(settings.max_concurrent_queries.max(1), QUERY_ADMISSION_WAIT);
    let share = FairShare::new(ShareSettings {
        anonymous_timeout: Duration::from_secs(settings.anonymous_query_timeout_secs),
        token_timeout: Duration::from_secs(settings.token_query_timeout_secs),
        key_timeout: Duration::from_secs(settings.query_timeout_secs),
        max_public: settings.max_concurrent_public_queries,
        max_anonymous: settings.max_concurrent_anonymous_queries,
        max_per_principal: settings.max_concurrent_queries_per_principal,
        admission_wait: QUERY_ADMISSION_WAIT,
        expensive_cost: settings.expensive_query_cost,
        max_expensive_public: settings.max_concurrent_expensive_public_queries,
    });
    // Estimating costs takes a few connections of its own: a flood of public queries waits for
    // them, not for the connections metadata calls, the relay and cancellations need.
    let plan_pool = row_connections(PLANNING_CONNECTIONS, Duration::from_secs(1));
    let _pools = [
        pool_probe(DOMAIN, "main", pool.clone()),
        pool_probe(DOMAIN, "queries", query_pool.clone()),
        pool_probe(DOMAIN, "plans", plan_pool.clone()),
    ];
    let catalog = Catalog::new(
        pool.clone(),
        query_pool,
        plan_pool,
        share,
        settings.chunk_bytes,
        identity,
        postgis.extensions(),
    )
    .ending_watches_at(shutdown.clone());
    let mut tasks = Tasks::new(DOMAIN, Health::new(), &shutdown);
    tasks.spawn(
        "outbox relay",
        Relay::new(pool.clone(), bus.clone(), DOMAIN, tasks.health()).run(tasks.shutdown()),
    );
    tasks.spawn(
        "version consumer",
        run_consumer(
            bus.clone(),
            "ingestion",
            "version_committed",
            VERSION_CONSUMER,
            VersionActivator::new(pool.clone()),
            tasks.shutdown(),
        ),
    );
    tasks.spawn(
        "purge consumer",
        run_consumer(
            bus.clone(),
            "ingestion",
            "version_purged",
            PURGE_CONSUMER,
            PurgeRecorder::new(pool.clone()),
            tasks.shutdown(),
        ),
    );
    tasks.spawn(
        "review consumer",
        run_consumer(
            bus,
            "governance",
            "review.>",
            REVIEW_CONSUMER,
            ReviewApplier::new(pool),
            tasks.shutdown(),
        ),
    );

    let api = CatalogServiceServer::new(CatalogApi::new(catalog, auth))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    opendata_platform::grpc::serve(api, listener, tasks, serving).await?;
    Ok(())
}
