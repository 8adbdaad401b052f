//! Keeps the index in step with the catalog and the incentives database.
//!
//! Events are notifications, not state: for each catalog event the indexer asks the catalog, as the
//! public, for the dataset's current state and indexes it if the public may find it, or removes it
//! otherwise; for each award event it asks the incentives service for the award and indexes it
//! unless it was withdrawn. Applying an old or repeated event therefore does no harm, and events may arrive in
//! any order. Events arriving together are applied in one write, their sources read a few at a
//! time. Writes (event groups and rebuilds) run one at a time in a process, so a rebuild never
//! loses an event this process applied meanwhile.
//!
//! Replicas sharing one index (Meilisearch) write concurrently. Two guards keep an older state
//! from winning: after its write, a replica reads its documents' sources again and writes once
//! more what changed meanwhile (so the last writer of a document always writes its current
//! state); and after a rebuild's swap, the replica applies again every event published since the
//! rebuild began, which covers what other replicas wrote into the index the swap replaced.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use opendata_platform::events::{CLOCK_SKEW, EventBus, HandlerError};
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use opendata_platform::shutdown::Shutdown;
use opendata_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use opendata_proto::catalog::v1::{
    Dataset, DatasetChanged, GetDatasetRequest, ListDatasetsRequest, PublicationStage,
};
use opendata_proto::governance::v1::ListAgenciesRequest;
use opendata_proto::governance::v1::identity_service_client::IdentityServiceClient;
use opendata_proto::incentives::v1::incentives_service_client::IncentivesServiceClient;
use opendata_proto::incentives::v1::{AwardChanged, GetAwardRequest, SearchAwardsRequest};
use prost::Message as _;
use tokio::sync::{Mutex, RwLock};
use tonic::Code;
use tonic::transport::Channel;

use crate::backend::{BackendError, Change, SearchBackend};
use crate::document::{SearchDocument, is_public};

/// The durable consumer of catalog events.
pub const CATALOG_CONSUMER: &str = "search_catalog";
/// The durable consumer of incentives events.
pub const AWARD_CONSUMER: &str = "search_awards";
/// Datasets fetched per catalog page during a rebuild.
const PAGE_SIZE: u32 = 1_000;
/// Datasets or awards read from their source at once while applying events.
const READS_AT_ONCE: usize = 8;
/// Most writes of one group of events in a shared index, each followed by a fresh read of what
/// was written: the first write, and up to two more of what changed meanwhile.
const WRITE_ROUNDS: usize = 3;
/// Subjects re-applied per write after a rebuild.
const CATCH_UP_CHUNK: usize = 500;
/// Attempts at re-applying the events published during a rebuild before it gives up.
const CATCH_UP_ATTEMPTS: u32 = 5;
/// Characters kept of why a document was not synced.
const UNSYNCED_REASON_CHARS: usize = 300;

/// What kind of document an indexer keeps: datasets from the catalog, or awards from the
/// incentives service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// Datasets, announced by catalog events.
    Datasets,
    /// Incentive awards, announced by incentives events.
    Awards,
}

impl Indexed {
    /// The domain whose events announce changes to these documents.
    pub fn domain(self) -> &'static str {
        match self {
            Indexed::Datasets => "catalog",
            Indexed::Awards => "incentives",
        }
    }

    /// The events (by name) that announce them.
    pub fn event_filter(self) -> &'static str {
        match self {
            Indexed::Datasets => ">",
            Indexed::Awards => "award_changed",
        }
    }

    /// The id of the dataset or award an event of this kind is about.
    pub fn subject_of(self, payload: Bytes) -> Result<String, HandlerError> {
        let id = match self {
            Indexed::Datasets => DatasetChanged::decode(payload)?.dataset.map(|d| d.id),
            Indexed::Awards => AwardChanged::decode(payload)?.award.map(|a| a.id),
        };
        id.ok_or_else(|| HandlerError::Reject("event without its dataset or award".to_owned()))
    }
}

/// The documents a sync could not bring up to date, each with why; the others it did.
#[derive(Debug, Default)]
pub struct Unsynced(HashMap<String, String>);

impl Unsynced {
    /// Notes that `id` was not synced, with why (kept short: an engine's error may quote the
    /// whole document).
    fn add(&mut self, id: String, reason: String) {
        self.0
            .insert(id, reason.chars().take(UNSYNCED_REASON_CHARS).collect());
    }

    fn extend(&mut self, other: Unsynced) {
        self.0.extend(other.0);
    }

    /// Why `id` was not synced; `None` when it was.
    pub fn reason(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    /// Whether every document was synced.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each document not synced, with why.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(id, reason)| (id.as_str(), reason.as_str()))
    }
}

/// Why the index could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The catalog, governance or incentives did not answer.
    #[error("source unavailable: {0}")]
    Source(String),
    /// The engine failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl From<tonic::Status> for IndexError {
    fn from(status: tonic::Status) -> Self {
        IndexError::Source(format!("{}: {}", status.code(), status.message()))
    }
}

/// Outcome of a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    /// Documents in the new index.
    pub documents: u64,
    /// How long reading, indexing and swapping took.
    pub took: Duration,
    /// How long re-applying the events published meanwhile took after the swap (a shared index
    /// only).
    pub caught_up: Duration,
}

/// Where incentive awards come from, and whose they are.
pub struct AwardSource {
    /// The incentives service.
    pub channel: Channel,
    /// The agency the awards belong to.
    pub agency_id: String,
}

/// Feeds the engine from the catalog and the incentives database.
pub struct Indexer {
    backend: Arc<dyn SearchBackend>,
    catalog: Channel,
    governance: Channel,
    awards: Option<AwardSource>,
    bus: EventBus,
    agency_names: RwLock<HashMap<String, String>>,
    writes: Mutex<()>,
    ready: AtomicBool,
    awards_missing: AtomicBool,
}

impl Indexer {
    /// An indexer writing into `backend`, reading the catalog, agency names and (when given)
    /// awards over the channels, and past events from `bus` after a rebuild.
    pub fn new(
        backend: Arc<dyn SearchBackend>,
        catalog: Channel,
        governance: Channel,
        awards: Option<AwardSource>,
        bus: EventBus,
    ) -> Self {
        Indexer {
            backend,
            catalog,
            governance,
            awards,
            bus,
            agency_names: RwLock::new(HashMap::new()),
            writes: Mutex::new(()),
            ready: AtomicBool::new(false),
            awards_missing: AtomicBool::new(false),
        }
    }

    /// The engine.
    pub fn backend(&self) -> &dyn SearchBackend {
        self.backend.as_ref()
    }

    /// Whether the first build has finished, so searches see the whole catalog.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn catalog(
        &self,
    ) -> CatalogServiceClient<tonic::service::interceptor::InterceptedService<Channel, ClientContext>>
    {
        CatalogServiceClient::with_interceptor(self.catalog.clone(), ClientContext::anonymous())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The name of `agency_id`, asking governance when it is not known yet.
    async fn agency_name(&self, agency_id: &str) -> Result<String, IndexError> {
        if let Some(name) = self.agency_names.read().await.get(agency_id) {
            return Ok(name.clone());
        }
        let agencies = IdentityServiceClient::with_interceptor(
            self.governance.clone(),
            ClientContext::anonymous(),
        )
        .list_agencies(ListAgenciesRequest {})
        .await?
        .into_inner()
        .agencies;
        let mut names = self.agency_names.write().await;
        names.extend(agencies.into_iter().map(|a| (a.id, a.name)));
        Ok(names
            .get(agency_id)
            .cloned()
            .unwrap_or_else(|| agency_id.to_owned()))
    }

    async fn document(&self, dataset: &Dataset) -> Result<SearchDocument, IndexError> {
        let agency = self.agency_name(&dataset.agency_id).await?;
        Ok(SearchDocument::from_dataset(dataset, &agency))
    }

    /// What the index should hold for one dataset: its document when the public may find it.
    async fn dataset_change(&self, dataset_id: &str) -> Result<Change, IndexError> {
        let found = self
            .catalog()
            .get_dataset(GetDatasetRequest {
                id: dataset_id.to_owned(),
            })
            .await;
        Ok(match found {
            Ok(response) => {
                let dataset = response.into_inner();
                if is_public(&dataset) {
                    Change::Upsert(Box::new(self.document(&dataset).await?))
                } else {
                    Change::Delete(dataset_id.to_owned())
                }
            }
            Err(status) if status.code() == Code::NotFound => Change::Delete(dataset_id.to_owned()),
            Err(status) => return Err(status.into()),
        })
    }

    fn incentives(
        &self,
        source: &AwardSource,
    ) -> IncentivesServiceClient<
        tonic::service::interceptor::InterceptedService<Channel, ClientContext>,
    > {
        IncentivesServiceClient::with_interceptor(
            source.channel.clone(),
            ClientContext::anonymous(),
        )
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// What the index should hold for one award: its document unless it was withdrawn.
    async fn award_change(
        &self,
        source: &AwardSource,
        award_id: &str,
    ) -> Result<Change, IndexError> {
        let found = self
            .incentives(source)
            .get_award(GetAwardRequest {
                id: award_id.to_owned(),
            })
            .await;
        let document = match found {
            Ok(award) => {
                let award = award.into_inner();
                if award.withdrawn {
                    None
                } else {
                    SearchDocument::from_award(&award, &source.agency_id)
                }
            }
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => return Err(status.into()),
        };
        Ok(match document {
            Some(document) => Change::Upsert(Box::new(document)),
            None => Change::Delete(award_id.to_owned()),
        })
    }

    /// What the index should hold now for each of `ids`, read [`READS_AT_ONCE`] at a time,
    /// and the ids whose source failed, with why. Awards are left alone when this indexer does
    /// not index them.
    async fn changes_now(&self, kind: Indexed, ids: &[String]) -> (Vec<Change>, Unsynced) {
        let reads = futures::stream::iter(ids.to_vec()).map(|id: String| async move {
            let change = match (kind, &self.awards) {
                (Indexed::Datasets, _) => self.dataset_change(&id).await.map(Some),
                (Indexed::Awards, Some(awards)) => self.award_change(awards, &id).await.map(Some),
                (Indexed::Awards, None) => Ok(None),
            };
            (id, change)
        });
        let read: Vec<(String, Result<Option<Change>, IndexError>)> =
            reads.buffered(READS_AT_ONCE).collect().await;
        let mut changes = Vec::with_capacity(read.len());
        let mut unsynced = Unsynced::default();
        for (id, change) in read {
            match change {
                Ok(change) => changes.extend(change),
                Err(error) => unsynced.add(id, error.to_string()),
            }
        }
        (changes, unsynced)
    }

    /// Applies `changes`, returning those written. When the engine refuses a document of the
    /// group, each change is tried alone so one bad document does not hold back the rest; any
    /// other failure fails them all.
    async fn write(&self, changes: Vec<Change>, unsynced: &mut Unsynced) -> Vec<Change> {
        let error = match self.backend.apply(changes.clone()).await {
            Ok(()) => return changes,
            Err(error) => error,
        };
        if changes.len() == 1 || !matches!(error, BackendError::Refused(_)) {
            for change in &changes {
                unsynced.add(change.id().to_owned(), error.to_string());
            }
            return Vec::new();
        }
        let mut written = Vec::with_capacity(changes.len());
        for change in changes {
            match self.backend.apply(vec![change.clone()]).await {
                Ok(()) => written.push(change),
                Err(error) => unsynced.add(change.id().to_owned(), error.to_string()),
            }
        }
        written
    }

    /// Brings the documents of `ids` (datasets or awards, as `kind` says) up to date with their
    /// sources, in one write, and returns those it could not, with why. With an index shared by
    /// replicas, reads the sources again after each write and writes what changed meanwhile, so
    /// another replica's older read never has the last word; what still changes after
    /// [`WRITE_ROUNDS`] writes is returned as not synced, to be tried again.
    pub async fn sync(&self, kind: Indexed, ids: &[String]) -> Unsynced {
        let mut ids: Vec<String> = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let _writing = self.writes.lock().await;
        let (mut changes, mut unsynced) = self.changes_now(kind, &ids).await;
        for _ in 0..WRITE_ROUNDS {
            if changes.is_empty() {
                return unsynced;
            }
            let written = self.write(changes, &mut unsynced).await;
            if !self.backend.is_shared() || written.is_empty() {
                return unsynced;
            }
            let written_ids: Vec<String> = written.iter().map(|c| c.id().to_owned()).collect();
            let (now, failed) = self.changes_now(kind, &written_ids).await;
            unsynced.extend(failed);
            changes = now
                .into_iter()
                .filter(|change| !written.contains(change))
                .collect();
        }
        for change in changes {
            unsynced.add(
                change.id().to_owned(),
                format!("still changing after {WRITE_ROUNDS} writes"),
            );
        }
        unsynced
    }

    /// Every current award's document.
    async fn award_documents(&self) -> Result<Vec<SearchDocument>, IndexError> {
        let Some(source) = &self.awards else {
            return Ok(Vec::new());
        };
        let mut chunks = self
            .incentives(source)
            .export_awards(SearchAwardsRequest::default())
            .await?
            .into_inner();
        let mut documents = Vec::new();
        while let Some(chunk) = chunks.message().await? {
            documents.extend(
                chunk
                    .awards
                    .iter()
                    .filter_map(|a| SearchDocument::from_award(a, &source.agency_id)),
            );
        }
        Ok(documents)
    }

    /// The documents of every public dataset, a catalog page at a time.
    fn public_datasets(&self) -> impl Stream<Item = Result<Vec<SearchDocument>, IndexError>> + '_ {
        futures::stream::try_unfold(Some(String::new()), move |page_token| async move {
            let Some(page_token) = page_token else {
                return Ok(None);
            };
            let page = self
                .catalog()
                .list_datasets(ListDatasetsRequest {
                    agency_id: String::new(),
                    publication_stage: PublicationStage::Published as i32,
                    page_size: PAGE_SIZE,
                    page_token,
                    include_withheld: false,
                })
                .await?
                .into_inner();
            let mut documents = Vec::with_capacity(page.datasets.len());
            for dataset in page.datasets.iter().filter(|d| is_public(d)) {
                documents.push(self.document(dataset).await?);
            }
            let next = (!page.next_page_token.is_empty()).then_some(page.next_page_token);
            Ok(Some((documents, next)))
        })
    }

    /// Every current award's document, or none (noted, for [`Indexer::backfill_awards`]) when
    /// the incentives service does not answer: datasets are not held back by it.
    async fn awards_or_later(&self) -> Vec<SearchDocument> {
        match self.award_documents().await {
            Ok(awards) => {
                self.awards_missing.store(false, Ordering::Release);
                awards
            }
            Err(error) => {
                tracing::warn!(%error, "awards left out of the index until incentives answers");
                self.awards_missing.store(true, Ordering::Release);
                Vec::new()
            }
        }
    }

    /// Rebuilds the index from every public dataset in the catalog and every current award,
    /// streaming them to the engine as they are read and swapping the new index in at the end;
    /// then, with an index shared by replicas, applies again what others applied meanwhile.
    pub async fn rebuild(&self) -> Result<Rebuilt, IndexError> {
        let started = Instant::now();
        let since = SystemTime::now();
        let documents = self.swap_in_everything().await?;
        let took = started.elapsed();
        if self.backend.is_shared() {
            self.catch_up(since).await?;
        }
        Ok(Rebuilt {
            documents,
            took,
            caught_up: started.elapsed() - took,
        })
    }

    /// Reads every public dataset and current award into a new index and swaps it in; the number
    /// of documents. The index is ready from then on.
    async fn swap_in_everything(&self) -> Result<u64, IndexError> {
        let documents = AtomicU64::new(0);
        // The engine sees only that its batches failed; the cause is kept here.
        let failure = std::sync::Mutex::new(None);
        let _writing = self.writes.lock().await;
        let awards = futures::stream::once(async { self.awards_or_later().await })
            .flat_map(|awards| {
                let batches: Vec<Vec<SearchDocument>> = awards
                    .chunks(PAGE_SIZE as usize)
                    .map(<[_]>::to_vec)
                    .collect();
                futures::stream::iter(batches)
            })
            .map(Ok);
        let batches = self
            .public_datasets()
            .chain(awards)
            .map(|batch| match batch {
                Ok(batch) => {
                    documents.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    Ok(batch)
                }
                Err(error) => {
                    let reason = error.to_string();
                    *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
                    Err(BackendError::Unavailable(reason))
                }
            });
        let replaced = self.backend.replace_all(batches.boxed()).await;
        if let Some(error) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(error);
        }
        replaced?;
        self.ready.store(true, Ordering::Release);
        Ok(documents.into_inner())
    }

    /// Applies again every catalog (and award) event published since `since`: another replica
    /// may have written its change into the index a rebuild then replaced. Tried
    /// [`CATCH_UP_ATTEMPTS`] times; fails naming what is left when documents stay unsynced.
    async fn catch_up(&self, since: SystemTime) -> Result<(), IndexError> {
        let since = since.checked_sub(CLOCK_SKEW).unwrap_or(since);
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.catch_up_once(since).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt >= CATCH_UP_ATTEMPTS => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, attempt, "catching up after a rebuild failed, retrying")
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
            attempt += 1;
        }
    }

    async fn catch_up_once(&self, since: SystemTime) -> Result<(), IndexError> {
        let mut kinds = vec![Indexed::Datasets];
        if self.awards.is_some() {
            kinds.push(Indexed::Awards);
        }
        for kind in kinds {
            let mut ids = HashSet::new();
            self.bus
                .read_since(kind.domain(), kind.event_filter(), since, |payload| {
                    if let Ok(id) = kind.subject_of(payload) {
                        ids.insert(id);
                    }
                })
                .await
                .map_err(|error| {
                    IndexError::Source(format!(
                        "reading the {} events of the rebuild's time: {error}",
                        kind.domain()
                    ))
                })?;
            let ids: Vec<String> = ids.into_iter().collect();
            let mut left = Unsynced::default();
            for chunk in ids.chunks(CATCH_UP_CHUNK) {
                left.extend(self.sync(kind, chunk).await);
            }
            if let Some((id, reason)) = left.iter().next() {
                return Err(IndexError::Source(format!(
                    "{} of the documents changed during the rebuild could not be synced (one: {id}: {reason})",
                    left.0.len()
                )));
            }
        }
        Ok(())
    }

    /// Adds every current award when a rebuild had to leave them out; whether it did.
    pub async fn backfill_awards(&self) -> Result<bool, IndexError> {
        if !self.awards_missing.load(Ordering::Acquire) {
            return Ok(false);
        }
        let _writing = self.writes.lock().await;
        let changes = self
            .award_documents()
            .await?
            .into_iter()
            .map(|document| Change::Upsert(Box::new(document)))
            .collect();
        self.backend.apply(changes).await?;
        self.awards_missing.store(false, Ordering::Release);
        Ok(true)
    }

    /// Retries [`Indexer::backfill_awards`] until it succeeds (or there is nothing to do) or
    /// shutdown.
    pub async fn backfill_awards_until_done(&self, shutdown: &Shutdown) {
        while self.awards_missing.load(Ordering::Acquire) && !shutdown.is_triggered() {
            match self.backfill_awards().await {
                Ok(_) => return,
                Err(error) => tracing::warn!(%error, "adding the awards failed, retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
                () = shutdown.triggered() => {}
            }
        }
    }

    /// The first build at start: rebuilds when the index is empty (always, for the in-memory
    /// engine), retrying until the catalog and engine answer or shutdown. Returns whether the
    /// index is ready.
    pub async fn initial_build(&self, shutdown: &Shutdown) -> bool {
        let mut delay = Duration::from_millis(200);
        // Set once a build swapped in with a shared index, until its catch-up is done.
        let mut catch_up_since = None;
        while !shutdown.is_triggered() {
            let outcome = async {
                if catch_up_since.is_none() && self.backend.count().await? == 0 {
                    let since = SystemTime::now();
                    let started = Instant::now();
                    let documents = self.swap_in_everything().await?;
                    tracing::info!(
                        engine = self.backend.name(),
                        documents,
                        took_ms = started.elapsed().as_millis() as u64,
                        "search index built"
                    );
                    if self.backend.is_shared() {
                        catch_up_since = Some(since);
                    }
                }
                if let Some(since) = catch_up_since {
                    self.catch_up(since).await?;
                    catch_up_since = None;
                }
                self.ready.store(true, Ordering::Release);
                Ok::<(), IndexError>(())
            }
            .await;
            match outcome {
                Ok(()) => return true,
                Err(error) => {
                    tracing::warn!(%error, "building the search index failed, retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.triggered() => {}
            }
            delay = (delay * 2).min(Duration::from_secs(10));
        }
        false
    }
}
