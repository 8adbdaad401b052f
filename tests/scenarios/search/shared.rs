//! Replicas writing one shared index (Meilisearch, or here any engine made to act as one): two
//! indexers over the same index, one paused at the moment that matters, show an older read never
//! has the last word, neither after a rebuild's swap nor after a slower replica's write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt as _;
use opendata_platform::channels::channel;
use opendata_proto::common::v1::Role;
use opendata_search::backend::{BackendFuture, Change, DocumentBatches, SearchBackend};
use opendata_search::document::SearchDocument;
use opendata_search::indexer::{Indexer, Source};
use opendata_search::query::{Filters, SearchPage, SearchQuery, Sort, Suggestion};
use opendata_testkit::{SearchEngine, TestStack};
use tokio::sync::Notify;

use super::engine::Index;
use super::engine_tests;
use super::service::unpublish;
use crate::support::{create_described, key_for, publish, search_bus};

engine_tests!(
    a_rebuild_keeps_what_another_replica_applied_meanwhile,
    a_slower_replicas_older_read_is_written_over,
);

/// Which write of a [`Paused`] index stops half way.
#[derive(Clone, Copy, PartialEq)]
enum PauseAt {
    /// A rebuild, once its documents are read and before they are swapped in.
    Rebuild,
    /// An apply, once its changes are decided and before they are written.
    Apply,
}

/// An index shared with other replicas, whose first write of one kind waits for the test.
struct Paused {
    inner: Arc<dyn SearchBackend>,
    at: Option<PauseAt>,
    paused_once: AtomicBool,
    reached: Notify,
    resume: Notify,
}

impl Paused {
    fn new(inner: Arc<dyn SearchBackend>, at: Option<PauseAt>) -> Arc<Paused> {
        Arc::new(Paused {
            inner,
            at,
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

impl SearchBackend for Paused {
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
    first_index: Arc<Paused>,
    second: Arc<Indexer>,
}

impl Replicas {
    async fn start(engine: SearchEngine, at: PauseAt) -> Replicas {
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
        let first_index = Paused::new(Arc::clone(&index.backend), Some(at));
        let first = indexer(first_index.clone());
        let second = indexer(Paused::new(Arc::clone(&index.backend), None));
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
        self.second
            .sync(Source::Catalog, std::slice::from_ref(&id))
            .await
            .unwrap();
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
        self.second
            .sync(Source::Catalog, &[id.to_owned()])
            .await
            .unwrap();
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
    let replicas = Replicas::start(engine, PauseAt::Rebuild).await;
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
    let replicas = Replicas::start(engine, PauseAt::Apply).await;
    let id = replicas.published().await;

    let first = Arc::clone(&replicas.first);
    let subject = id.clone();
    replicas
        .withheld_while_paused(
            &id,
            async move { first.sync(Source::Catalog, &[subject]).await },
        )
        .await
        .unwrap();
    assert!(
        !replicas.holds(&id).await,
        "the slower replica's older read does not bring a withheld dataset back"
    );
    replicas.stop().await;
}
