//! Replicas writing one shared index (Meilisearch, or here any engine made to act as one): two
//! indexers over the same index, one paused at the moment that matters, show an older read never
//! has the last word, neither after a rebuild's swap nor after a slower replica's write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt as _;
use opendata_platform::channels::channel;
use opendata_proto::common::v1::Role;
use opendata_search::backend::{
    BackendError, BackendFuture, Change, DocumentBatches, SearchBackend,
};
use opendata_search::document::SearchDocument;
use opendata_search::indexer::{Indexed, Indexer, Unsynced};
use opendata_search::query::{Filters, SearchPage, SearchQuery, Sort, Suggestion};
use opendata_testkit::{SearchEngine, TestStack};
use tokio::sync::Notify;

use super::engine::Index;
use super::engine_tests;
use crate::support::{create_described, key_for, publish, search_bus, unpublish};

engine_tests!(
    a_rebuild_keeps_what_another_replica_applied_meanwhile,
    a_slower_replicas_older_read_is_written_over,
    a_refused_document_holds_back_only_itself,
);

/// Fails unless every document was synced.
fn synced(unsynced: Unsynced) {
    assert!(unsynced.is_empty(), "not synced: {unsynced:?}");
}

/// Which write of a [`SharedIndex`] index stops half way.
#[derive(Clone, Copy, PartialEq)]
enum PauseAt {
    /// A rebuild, once its documents are read and before they are swapped in.
    Rebuild,
    /// An apply, once its changes are decided and before they are written.
    Apply,
}

/// An index shared with other replicas, whose first write of one kind waits for the test, and
/// which refuses changes to one document when told to.
struct SharedIndex {
    inner: Arc<dyn SearchBackend>,
    at: Option<PauseAt>,
    refused: std::sync::Mutex<Option<String>>,
    paused_once: AtomicBool,
    reached: Notify,
    resume: Notify,
}

impl SharedIndex {
    fn new(inner: Arc<dyn SearchBackend>, at: Option<PauseAt>) -> Arc<SharedIndex> {
        Arc::new(SharedIndex {
            inner,
            at,
            refused: std::sync::Mutex::new(None),
            paused_once: AtomicBool::new(false),
            reached: Notify::new(),
            resume: Notify::new(),
        })
    }

    async fn pause_if(&self, at: PauseAt) {
        if self.at == Some(at) && !self.paused_once.swap(true, Ordering::SeqCst) {
            self.reached.notify_one();
            self.resume.notified().await;
        }
    }
}

impl SearchBackend for SharedIndex {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BackendFuture<'a, SearchPage> {
        self.inner.search(query)
    }

    fn suggest<'a>(&'a self, suggestion: &'a Suggestion) -> BackendFuture<'a, Vec<String>> {
        self.inner.suggest(suggestion)
    }

    fn apply(&self, changes: Vec<Change>) -> BackendFuture<'_, ()> {
        Box::pin(async move {
            self.pause_if(PauseAt::Apply).await;
            let refused = self.refused.lock().unwrap().clone();
            if let Some(id) = refused.filter(|id| changes.iter().any(|c| c.id() == id)) {
                return Err(BackendError::Refused(format!("document {id} refused")));
            }
            self.inner.apply(changes).await
        })
    }

    fn refresh(&self) -> BackendFuture<'_, ()> {
        self.inner.refresh()
    }

    fn replace_all<'a>(&'a self, mut batches: DocumentBatches<'a>) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            let mut read: Vec<SearchDocument> = Vec::new();
            while let Some(batch) = batches.next().await {
                read.extend(batch?);
            }
            self.pause_if(PauseAt::Rebuild).await;
            self.inner
                .replace_all(futures::stream::iter([Ok(read)]).boxed())
                .await
        })
    }

    fn count(&self) -> BackendFuture<'_, u64> {
        self.inner.count()
    }
}

/// Two replicas' indexers over one index: the first pausing where `at` says.
struct Replicas {
    stack: TestStack,
    index: Index,
    first: Arc<Indexer>,
    first_index: Arc<SharedIndex>,
    second: Arc<Indexer>,
}

impl Replicas {
    async fn start(engine: SearchEngine, at: Option<PauseAt>) -> Replicas {
        let stack = TestStack::start().await;
        let index = Index::new(engine, Vec::new()).await;
        let bus = search_bus(&stack).await;
        let indexer = |backend: Arc<dyn SearchBackend>| {
            let url = |address: std::net::SocketAddr| format!("http://{address}");
            Arc::new(Indexer::new(
                backend,
                channel(&url(stack.addresses.catalog)).unwrap(),
                channel(&url(stack.addresses.governance)).unwrap(),
                None,
                bus.clone(),
            ))
        };
        let first_index = SharedIndex::new(Arc::clone(&index.backend), at);
        let first = indexer(first_index.clone());
        let second = indexer(SharedIndex::new(Arc::clone(&index.backend), None));
        Replicas {
            stack,
            index,
            first,
            first_index,
            second,
        }
    }

    /// A published dataset, and the index holding it.
    async fn published(&self) -> String {
        let key = key_for(&self.stack, "opm", Role::Publisher).await;
        let metadata = opendata_proto::catalog::v1::DatasetMetadata {
            title: "Shared index dataset".to_owned(),
            description: "Indexed by two replicas.".to_owned(),
            ..Default::default()
        };
        let id = create_described(&self.stack, &key, "opm", metadata, Default::default()).await;
        publish(&self.stack, &id).await;
        synced(
            self.second
                .sync(Indexed::Datasets, std::slice::from_ref(&id))
                .await,
        );
        assert!(self.holds(&id).await, "indexed once published");
        id
    }

    /// Runs `first` (work of the first replica, which pauses); while it waits, withholds the
    /// dataset and has the second replica remove it from the index; then lets `first` finish.
    async fn withheld_while_paused<T: Send + 'static>(
        &self,
        id: &str,
        first: impl Future<Output = T> + Send + 'static,
    ) -> T {
        let first = tokio::spawn(first);
        self.first_index.reached.notified().await;
        unpublish(&self.stack, id).await;
        synced(self.second.sync(Indexed::Datasets, &[id.to_owned()]).await);
        assert!(!self.holds(id).await, "the second replica removed it");
        self.first_index.resume.notify_one();
        first.await.unwrap()
    }

    /// Whether a search of the shared index finds `id`.
    async fn holds(&self, id: &str) -> bool {
        self.index.backend.refresh().await.unwrap();
        let query = SearchQuery {
            text: String::new(),
            filters: Filters {
                ids: vec![id.to_owned()],
                ..Filters::default()
            },
            sort: Sort::Relevance,
            offset: 0,
            limit: 10,
            facets: Vec::new(),
        };
        self.index.backend.search(&query).await.unwrap().total == 1
    }

    async fn stop(self) {
        self.index.drop().await;
        self.stack.stop().await;
    }
}

/// The first replica rebuilds from a catalog read taken while the dataset was public; the second
/// replica meanwhile removes it, as the withholding's event says. The rebuild's swap brings the
/// old read back, and the first replica then applies again what was published during its
/// rebuild, so the dataset is gone for good.
async fn a_rebuild_keeps_what_another_replica_applied_meanwhile(engine: SearchEngine) {
    let replicas = Replicas::start(engine, Some(PauseAt::Rebuild)).await;
    let id = replicas.published().await;

    let first = Arc::clone(&replicas.first);
    let rebuilt = replicas
        .withheld_while_paused(&id, async move { first.rebuild().await })
        .await
        .unwrap();
    assert_eq!(
        rebuilt.documents, 1,
        "the rebuild read it while it was public"
    );
    assert!(
        !replicas.holds(&id).await,
        "the rebuild's older read does not bring a withheld dataset back"
    );
    replicas.stop().await;
}

/// The first replica reads the dataset while it is public and is slow to write it; the second
/// replica meanwhile reads it withheld and removes it. The first replica's late write would bring
/// it back, so it reads again after writing and removes it.
async fn a_slower_replicas_older_read_is_written_over(engine: SearchEngine) {
    let replicas = Replicas::start(engine, Some(PauseAt::Apply)).await;
    let id = replicas.published().await;

    let first = Arc::clone(&replicas.first);
    let subject = id.clone();
    synced(
        replicas
            .withheld_while_paused(&id, async move {
                first.sync(Indexed::Datasets, &[subject]).await
            })
            .await,
    );
    assert!(
        !replicas.holds(&id).await,
        "the slower replica's older read does not bring a withheld dataset back"
    );
    replicas.stop().await;
}

/// Events arriving together are synced in one write; when the engine refuses one document, the
/// others are still written and only that one is reported (its event alone is retried).
async fn a_refused_document_holds_back_only_itself(engine: SearchEngine) {
    let replicas = Replicas::start(engine, None).await;
    let good = replicas.published().await;
    let bad = replicas.published().await;
    unpublish(&replicas.stack, &good).await;
    unpublish(&replicas.stack, &bad).await;
    *replicas.first_index.refused.lock().unwrap() = Some(bad.clone());

    let unsynced = replicas
        .first
        .sync(Indexed::Datasets, &[good.clone(), bad.clone()])
        .await;
    assert_eq!(unsynced.reason(&good), None, "{unsynced:?}");
    let reason = unsynced
        .reason(&bad)
        .expect("the refused document is reported");
    assert!(
        reason.contains(&format!("document {bad} refused")),
        "{reason}"
    );
    assert!(
        !replicas.holds(&good).await,
        "the other document was written"
    );
    assert!(replicas.holds(&bad).await, "the refused one is as it was");
    replicas.stop().await;
}
