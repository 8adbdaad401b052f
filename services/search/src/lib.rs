//! The search service: full-text, typo-tolerant, faceted search over what the public may see.
//!
//! Two engines sit behind [`backend::SearchBackend`]: Meilisearch ([`meili`]) when a URL is
//! configured, otherwise an embedded tantivy index ([`embedded`]). The [`indexer`] keeps the engine
//! in step with the catalog from a durable consumer of catalog events, and rebuilds it on demand
//! (or at start, when the index is empty) without interrupting searches.

// A service crate: an item whose name says what it is goes without a doc comment (library
// crates under crates/ keep `missing_docs`).
#![allow(missing_docs)]

pub mod backend;
#[warn(missing_docs)]
pub mod config;
pub mod document;
pub mod embedded;
pub mod events;
pub mod grpc;
pub mod indexer;
pub mod meili;
pub mod query;
pub mod synonyms;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opendata_platform::auth::Authenticator;
use opendata_platform::channels::channel;
use opendata_platform::events::{ACK_WAIT, EventBus, OwnCopy, Pace, Route, run_paced_consumer};
use opendata_platform::grpc::Serving;
use opendata_platform::health::Health;
use opendata_platform::metrics::{EngineLabels, Probe, metrics};
use opendata_platform::shutdown::Shutdown;
use opendata_platform::tasks::{TaskResult, Tasks};
use opendata_proto::search::v1::search_service_server::SearchServiceServer;
use tokio::net::TcpListener;

use crate::backend::{BackendError, SearchBackend};
use crate::config::SearchSettings;
use crate::embedded::EmbeddedBackend;
use crate::events::IndexEvents;
use crate::grpc::SearchApi;
use crate::indexer::{AWARD_CONSUMER, AwardSource, CATALOG_CONSUMER, Indexed, Indexer};
use crate::meili::MeiliBackend;
use crate::synonyms::Synonyms;

/// How the index follows events: up to 100 that have arrived are applied in one write.
const INDEXING_PACE: Pace = Pace {
    ack_wait: ACK_WAIT,
    batch: 100,
};

/// The engine the settings select: Meilisearch when a URL is set, else the embedded engine.
pub fn backend(settings: &SearchSettings) -> Result<Arc<dyn SearchBackend>, BackendError> {
    let synonyms = Synonyms::new(&settings.synonyms);
    Ok(if settings.meilisearch.url.trim().is_empty() {
        Arc::new(EmbeddedBackend::new(synonyms)?)
    } else {
        Arc::new(MeiliBackend::new(&settings.meilisearch, synonyms)?)
    })
}

/// Serves search on `listener`, builds the index, then follows catalog and incentives events, until `shutdown`;
/// then drains for at most `serving.grace`.
pub async fn serve(
    settings: SearchSettings,
    bus: EventBus,
    listener: TcpListener,
    shutdown: Shutdown,
    serving: Serving,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let backend = backend(&settings)?;
    tracing::info!(engine = backend.name(), "search engine selected");
    let awards = match settings.incentives_url.trim() {
        "" => None,
        url => Some(AwardSource {
            channel: channel(url)?,
            agency_id: settings.incentives_agency_id.clone(),
        }),
    };
    let indexing_awards = awards.is_some();
    let indexer = Arc::new(Indexer::new(
        backend,
        channel(&settings.catalog_url)?,
        channel(&settings.governance_url)?,
        awards,
        bus.clone(),
    ));
    let auth = Arc::new(Authenticator::new(
        channel(&settings.governance_url)?,
        Duration::from_secs(settings.auth_cache_ttl_secs),
    ));

    // Not serving until the index is built: its answers would be partial.
    let health = Health::new();
    health.hold();
    let mut tasks = Tasks::new("search", health.clone(), &shutdown);
    tasks.spawn(
        "index follower",
        follow(
            Arc::clone(&indexer),
            bus,
            indexing_awards,
            health,
            tasks.shutdown(),
        ),
    );

    let _documents = documents_probe(Arc::clone(&indexer));
    let api = SearchServiceServer::new(SearchApi::new(indexer, auth));
    opendata_platform::grpc::serve(api, listener, tasks, serving).await?;
    Ok(())
}

/// Reports the documents in the index at every scrape.
fn documents_probe(indexer: Arc<Indexer>) -> Probe {
    metrics().on_scrape("search_documents", move || {
        let indexer = Arc::clone(&indexer);
        async move {
            let backend = indexer.backend();
            let count = backend.count().await.map_err(|error| error.to_string())?;
            metrics()
                .search_documents
                .get_or_create(&EngineLabels {
                    engine: backend.name(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
            Ok(())
        }
    })
}

/// Builds the index (and reports the service ready), then keeps it current from catalog (and
/// award) events, and fills in the awards when incentives answered too late for the first build;
/// until shutdown. Replicas of a shared index (Meilisearch) share the events; a replica with an
/// index of its own gets every event published since it began building.
async fn follow(
    indexer: Arc<Indexer>,
    bus: EventBus,
    indexing_awards: bool,
    health: Health,
    shutdown: Shutdown,
) -> TaskResult {
    let own_copy = (!indexer.backend().is_shared()).then(|| OwnCopy {
        replica: rand_tag(),
        since: SystemTime::now(),
    });
    if !indexer.initial_build(&shutdown).await {
        return Ok(());
    }
    health.ready().await;
    let backfill = async {
        indexer.backfill_awards_until_done(&shutdown).await;
        Ok(())
    };
    let consume = |kind: Indexed, durable: &'static str| {
        let route = Route {
            domain: kind.domain(),
            event_filter: kind.event_filter(),
            durable,
            own_copy,
        };
        let handler = IndexEvents {
            indexer: Arc::clone(&indexer),
            kind,
        };
        run_paced_consumer(bus.clone(), route, handler, shutdown.clone(), INDEXING_PACE)
    };
    let catalog = consume(Indexed::Datasets, CATALOG_CONSUMER);
    let awards = async {
        match indexing_awards {
            true => consume(Indexed::Awards, AWARD_CONSUMER).await,
            false => Ok(()),
        }
    };
    futures::try_join!(catalog, awards, backfill).map(|_| ())
}

/// A random tag telling this process's consumers from other replicas'.
fn rand_tag() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}
