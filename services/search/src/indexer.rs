//! Keeps the index in step with the catalog and the incentives database.
//!
//! Events are notifications, not state: for each catalog event the indexer asks the catalog, as the
//! public, for the dataset's current state and indexes it if the public may find it, or removes it
//! otherwise; for each award event it asks the incentives service for the award and indexes it
//! unless it was withdrawn. Applying an old or repeated event therefore does no harm, and events may arrive in
//! any order. Writes (events and rebuilds) run one at a time, so a rebuild never loses an event
//! applied meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opendata_platform::events::{Event, EventHandler, HandlerError};
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
    /// How long it took.
    pub took: Duration,
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
    agency_names: RwLock<HashMap<String, String>>,
    writes: Mutex<()>,
    ready: AtomicBool,
    awards_missing: AtomicBool,
}

impl Indexer {
    /// An indexer writing into `backend`, reading the catalog, agency names and (when given)
    /// awards over the channels.
    pub fn new(
        backend: Arc<dyn SearchBackend>,
        catalog: Channel,
        governance: Channel,
        awards: Option<AwardSource>,
    ) -> Self {
        Indexer {
            backend,
            catalog,
            governance,
            awards,
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

    /// Brings one dataset's document up to date with the catalog's public view of it.
    pub async fn sync(&self, dataset_id: &str) -> Result<(), IndexError> {
        let _writing = self.writes.lock().await;
        let found = self
            .catalog()
            .get_dataset(GetDatasetRequest {
                id: dataset_id.to_owned(),
            })
            .await;
        let change = match found {
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
        };
        self.backend.apply(vec![change]).await?;
        Ok(())
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

    /// Brings one award's document up to date with the incentives service.
    pub async fn sync_award(&self, award_id: &str) -> Result<(), IndexError> {
        let Some(source) = &self.awards else {
            return Ok(());
        };
        let _writing = self.writes.lock().await;
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
        let change = match document {
            Some(document) => Change::Upsert(Box::new(document)),
            None => Change::Delete(award_id.to_owned()),
        };
        self.backend.apply(vec![change]).await?;
        Ok(())
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

    /// Rebuilds the index from every public dataset in the catalog and every current award,
    /// swapping it in at the end.
    pub async fn rebuild(&self) -> Result<Rebuilt, IndexError> {
        let started = Instant::now();
        let _writing = self.writes.lock().await;
        let mut documents = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .catalog()
                .list_datasets(ListDatasetsRequest {
                    agency_id: String::new(),
                    publication_stage: PublicationStage::Published as i32,
                    page_size: PAGE_SIZE,
                    page_token: page_token.clone(),
                    include_withheld: false,
                })
                .await?
                .into_inner();
            for dataset in page.datasets.iter().filter(|d| is_public(d)) {
                documents.push(self.document(dataset).await?);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        // Datasets are not held back by an unreachable incentives service: the awards follow.
        match self.award_documents().await {
            Ok(awards) => {
                documents.extend(awards);
                self.awards_missing.store(false, Ordering::Release);
            }
            Err(error) => {
                tracing::warn!(%error, "awards left out of the index until incentives answers");
                self.awards_missing.store(true, Ordering::Release);
            }
        }
        let count = documents.len() as u64;
        self.backend.replace_all(documents).await?;
        self.ready.store(true, Ordering::Release);
        Ok(Rebuilt {
            documents: count,
            took: started.elapsed(),
        })
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
        while !shutdown.is_triggered() {
            let outcome = match self.backend.count().await {
                Ok(0) => self.rebuild().await.map(|rebuilt| {
                    tracing::info!(
                        engine = self.backend.name(),
                        documents = rebuilt.documents,
                        took_ms = rebuilt.took.as_millis() as u64,
                        "search index built"
                    );
                }),
                Ok(_) => {
                    self.ready.store(true, Ordering::Release);
                    Ok(())
                }
                Err(error) => Err(error.into()),
            };
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

/// Applies incentives events to the index.
pub struct AwardEvents(pub Arc<Indexer>);

impl EventHandler for AwardEvents {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        let changed = AwardChanged::decode(event.payload)?;
        let Some(award) = changed.award else {
            return Err(HandlerError::Reject("event without an award".to_owned()));
        };
        self.0
            .sync_award(&award.id)
            .await
            .map_err(|error| HandlerError::Retry(error.to_string()))
    }
}

/// Applies catalog events to the index.
pub struct CatalogEvents(pub Arc<Indexer>);

impl EventHandler for CatalogEvents {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        let changed = DatasetChanged::decode(event.payload)?;
        let Some(dataset) = changed.dataset else {
            return Err(HandlerError::Reject("event without a dataset".to_owned()));
        };
        self.0
            .sync(&dataset.id)
            .await
            .map_err(|error| HandlerError::Retry(error.to_string()))
    }
}
