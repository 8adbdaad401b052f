//! The incentives service: DECD's searchable database of economic assistance and tax credits
//! (Executive Order 38). Awards follow DECD's published portfolio; every correction is kept with
//! who, when and why; job obligations are computed from commitments and reviews; the public reads
//! pages, summaries and the whole table. Writes belong to DECD's own ADO and publishers.

// A service crate: an item whose name says what it is goes without a doc comment (library
// crates under crates/ keep `missing_docs`).
#![allow(missing_docs)]

pub mod award;
pub mod company;
#[warn(missing_docs)]
pub mod config;
pub mod convert;
pub mod dataset_columns;
pub mod downloads;
#[warn(missing_docs)]
pub mod error;
pub mod events;
pub mod filter;
pub mod grpc;
pub mod ledger;
pub mod money;
pub mod obligation;
pub mod publishing;
pub mod registry;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use opendata_platform::auth::Authenticator;
use opendata_platform::channels::channel;
use opendata_platform::clock::Clock;
use opendata_platform::events::{EventBus, Relay};
use opendata_platform::grpc::{MAX_MESSAGE_BYTES, Serving};
use opendata_platform::health::Health;
use opendata_platform::metrics::pool_probe;
use opendata_platform::shutdown::Shutdown;
use opendata_platform::tasks::Tasks;
use opendata_proto::incentives::v1::incentives_service_server::IncentivesServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use crate::company::CompanyMatcher;
use crate::config::IncentivesSettings;
use crate::downloads::Downloads;
use crate::events::DOMAIN;
use crate::grpc::IncentivesApi;
use crate::ledger::Ledger;
use crate::publishing::Publisher;

/// The database schema incentives owns.
pub const SCHEMA: &str = "incentives";

/// Incentives' own migrations (the platform's outbox and inbox come first).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the schema and applies the migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    opendata_platform::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Everything incentives needs to run.
pub struct IncentivesService {
    /// Its database pool (search path: the incentives schema).
    pub pool: PgPool,
    /// The event bus.
    pub bus: EventBus,
    pub settings: IncentivesSettings,
    /// The time obligations are judged by.
    pub clock: Arc<dyn Clock>,
}

/// Serves incentives on `listener`, relays its outbox and keeps the award dataset current until
/// `shutdown`; then drains for at most `serving.grace`.
pub async fn serve(
    service: IncentivesService,
    listener: TcpListener,
    shutdown: Shutdown,
    serving: Serving,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let IncentivesService {
        pool,
        bus,
        settings,
        clock,
    } = service;
    settings.validate()?;
    let auth = Arc::new(Authenticator::new(
        channel(&settings.governance_url)?,
        Duration::from_secs(settings.auth_cache_ttl_secs),
    ));
    let _pool = pool_probe(DOMAIN, "main", pool.clone());
    let ledger = Ledger::new(pool.clone(), clock.clone(), &settings.agency_id);
    let publisher = Publisher::new(
        ledger.clone(),
        clock,
        (
            channel(&settings.catalog_url)?,
            channel(&settings.ingestion_url)?,
        ),
        &settings.agency_id,
        settings.dataset.clone(),
    );
    let mut tasks = Tasks::new(DOMAIN, Health::new(), &shutdown);
    tasks.spawn(
        "outbox relay",
        Relay::new(pool, bus, DOMAIN, tasks.health()).run(tasks.shutdown()),
    );
    let interval = Duration::from_secs(settings.dataset.sync_interval_secs.max(1));
    tasks.spawn_every("award dataset sync", interval, {
        let publisher = publisher.clone();
        move || {
            let publisher = publisher.clone();
            async move { publisher.sync().await.map(|_pushed| ()) }
        }
    });
    let downloads = Downloads::new(
        ledger.clone(),
        settings.max_concurrent_exports,
        Duration::from_secs(settings.export_timeout_secs),
    );
    let search = match settings.search_url.trim() {
        "" => None,
        url => Some(channel(url)?),
    };
    let companies = CompanyMatcher::new(search);
    let api = IncentivesServiceServer::new(IncentivesApi::new(
        ledger, downloads, publisher, companies, auth,
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    opendata_platform::grpc::serve(api, listener, tasks, serving).await?;
    Ok(())
}
