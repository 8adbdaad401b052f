//! The governance service: identity (agencies, principals with roles, API keys and app tokens, and
//! the `Authenticate` RPC every other service relies on), the data inventory and its review
//! workflow (Executive Order 39), freshness, and the append-only audit log.

// A service crate: an item whose name says what it is goes without a doc comment (library
// crates under crates/ keep `missing_docs`).
#![allow(missing_docs)]

pub mod audit;
pub mod catalog_feed;
#[warn(missing_docs)]
pub mod config;
pub mod convert;
#[warn(missing_docs)]
pub mod error;
pub mod freshness;
pub mod grpc;
pub mod identity;
pub mod jobs;
pub mod keys;
pub mod public_datasets;
pub mod review;

use std::sync::Arc;
use std::time::Duration;

use opendata_platform::channels::channel;
use opendata_platform::events::{EventBus, Relay, run_consumer};
use opendata_platform::grpc::{MAX_MESSAGE_BYTES, Serving, serve_routes};
use opendata_platform::health::Health;
use opendata_platform::metrics::pool_probe;
use opendata_platform::shutdown::Shutdown;
use opendata_platform::tasks::Tasks;
use opendata_proto::governance::v1::audit_service_server::AuditServiceServer;
use opendata_proto::governance::v1::freshness_service_server::FreshnessServiceServer;
use opendata_proto::governance::v1::identity_service_server::IdentityServiceServer;
use opendata_proto::governance::v1::review_service_server::ReviewServiceServer;
use secrecy::ExposeSecret as _;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tonic::server::NamedService;

use crate::audit::Audit;
use crate::catalog_feed::{CATALOG_CONSUMER, CatalogFeed};
use crate::config::GovernanceSettings;
use crate::grpc::identity::IdentityApi;
use crate::grpc::oversight::{AuditApi, FreshnessApi};
use crate::grpc::review::ReviewApi;
use crate::identity::Identity;
use crate::jobs::run_once;
use crate::public_datasets::PublicDatasets;
use crate::review::{DOMAIN, Review, ReviewSettings};
use opendata_platform::clock::Clock;

/// The database schema governance owns.
pub const SCHEMA: &str = "governance";

/// Governance's own migrations (the platform's outbox and inbox come first).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the schema and applies the migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    opendata_platform::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Everything governance needs to run.
pub struct GovernanceService {
    /// Its database pool (search path: the governance schema).
    pub pool: PgPool,
    /// The event bus.
    pub bus: EventBus,
    pub settings: GovernanceSettings,
    /// The time governance goes by.
    pub clock: Arc<dyn Clock>,
}

/// Serves governance on `listener`, relays its outbox, follows the catalog and runs its jobs,
/// until `shutdown`; then drains for at most `serving.grace`.
pub async fn serve(
    service: GovernanceService,
    listener: TcpListener,
    shutdown: Shutdown,
    serving: Serving,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// A week: staff sign in at least once a week.
    const MAX_SESSION_SECS: u64 = 7 * 24 * 3600;
    let GovernanceService {
        pool,
        bus,
        settings,
        clock,
    } = service;
    if settings.stale_grace_percent > 1_000 {
        return Err(format!(
            "governance.stale_grace_percent must be at most 1000, not {}",
            settings.stale_grace_percent
        )
        .into());
    }
    if !(60..=MAX_SESSION_SECS).contains(&settings.session_lifetime_secs) {
        return Err(format!(
            "governance.session_lifetime_secs must be from 60 to {MAX_SESSION_SECS}, not {}",
            settings.session_lifetime_secs
        )
        .into());
    }
    let bootstrap = settings
        .bootstrap_admin_key
        .as_ref()
        .map(|key| key.expose_secret().to_owned());
    let _pool = pool_probe(DOMAIN, "main", pool.clone());
    let identity = Identity::new(
        pool.clone(),
        bootstrap.as_deref(),
        Duration::from_secs(settings.session_lifetime_secs),
    );
    let review = Review::new(
        pool.clone(),
        channel(&settings.catalog_url)?,
        clock,
        ReviewSettings {
            retired_public_days: settings.retired_public_days,
            stale_grace_percent: settings.stale_grace_percent,
        },
    );
    let mut tasks = Tasks::new(DOMAIN, Health::new(), &shutdown);
    tasks.spawn(
        "outbox relay",
        Relay::new(pool.clone(), bus.clone(), DOMAIN, tasks.health()).run(tasks.shutdown()),
    );
    tasks.spawn(
        "catalog feed",
        run_consumer(
            bus,
            "catalog",
            ">",
            CATALOG_CONSUMER,
            CatalogFeed::new(pool.clone()),
            tasks.shutdown(),
        ),
    );
    let public = Arc::new(PublicDatasets::new(
        identity.clone(),
        review.clone(),
        channel(&settings.catalog_url)?,
        channel(&settings.ingestion_url)?,
        settings.public_datasets.clone(),
    ));
    let interval = Duration::from_secs(settings.job_interval_secs.max(1));
    tasks.spawn_every("jobs", interval, {
        let (pool, review) = (pool.clone(), review.clone());
        move || {
            let (pool, review, public) = (pool.clone(), review.clone(), public.clone());
            async move { run_once(&pool, &review, &public).await }
        }
    });

    let identity_api = IdentityServiceServer::new(IdentityApi::new(identity.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let review_api = ReviewServiceServer::new(ReviewApi::new(identity.clone(), review.clone()));
    let freshness_api = FreshnessServiceServer::new(FreshnessApi::new(identity.clone(), review));
    let audit_api = AuditServiceServer::new(AuditApi::new(identity, Audit::new(pool)));
    let names = [
        <IdentityServiceServer<IdentityApi> as NamedService>::NAME,
        <ReviewServiceServer<ReviewApi> as NamedService>::NAME,
        <FreshnessServiceServer<FreshnessApi> as NamedService>::NAME,
        <AuditServiceServer<AuditApi> as NamedService>::NAME,
    ];
    let routes = tonic::service::Routes::new(identity_api)
        .add_service(review_api)
        .add_service(freshness_api)
        .add_service(audit_api);
    serve_routes(routes, &names, listener, tasks, serving).await?;
    Ok(())
}
