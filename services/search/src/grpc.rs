//! The gRPC adapter of `SearchService`: validate, call the engine, convert back.

use std::sync::Arc;
use std::time::Instant;

use opendata_platform::auth::Authenticator;
use opendata_platform::authz::Action;
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_proto::search::v1 as pb;
use opendata_proto::search::v1::search_service_server::SearchService;
use tonic::{Request, Response, Status};

use crate::indexer::{IndexError, Indexer};
use crate::query::{SearchQuery, suggest_args};

/// Serves `SearchService`.
#[derive(Clone)]
pub struct SearchApi {
    indexer: Arc<Indexer>,
    auth: Arc<Authenticator>,
}

impl SearchApi {
    /// The adapter.
    pub fn new(indexer: Arc<Indexer>, auth: Arc<Authenticator>) -> Self {
        SearchApi { indexer, auth }
    }

    fn require_ready(&self) -> Result<(), ApiError> {
        if self.indexer.is_ready() {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "the search index is being built, retry shortly",
            ))
        }
    }
}

impl From<IndexError> for ApiError {
    fn from(error: IndexError) -> Self {
        match error {
            IndexError::Backend(error) => error.into(),
            IndexError::Source(reason) => ApiError::new(
                ErrorCode::Unavailable,
                format!("the catalog did not answer, retry later ({reason})"),
            ),
        }
    }
}

#[tonic::async_trait]
impl SearchService for SearchApi {
    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        self.require_ready()?;
        let started = Instant::now();
        let query = SearchQuery::from_proto(request.into_inner())?;
        let page = self
            .indexer
            .backend()
            .search(&query)
            .await
            .map_err(ApiError::from)?;
        let took = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        Ok(Response::new(page.into_proto(took)))
    }

    async fn suggest(
        &self,
        request: Request<pb::SuggestRequest>,
    ) -> Result<Response<pb::SuggestResponse>, Status> {
        self.require_ready()?;
        let suggestion = suggest_args(request.get_ref())?;
        let titles = self
            .indexer
            .backend()
            .suggest(&suggestion)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::SuggestResponse { titles }))
    }

    async fn reindex(
        &self,
        request: Request<pb::ReindexRequest>,
    ) -> Result<Response<pb::ReindexResponse>, Status> {
        let caller = self.auth.require(request.metadata()).await?;
        caller.authorize(Action::Reindex, None)?;
        // Run to the end even when the caller stops waiting: a rebuild dropped between its swap
        // and its catch-up would lose what other replicas applied meanwhile.
        let indexer = Arc::clone(&self.indexer);
        let rebuilt = tokio::spawn(async move { indexer.rebuild().await })
            .await
            .map_err(|error| opendata_platform::error::internal(&error))?
            .map_err(ApiError::from)?;
        tracing::info!(
            caller = %caller.id,
            documents = rebuilt.documents,
            took_ms = rebuilt.took.as_millis() as u64,
            caught_up_ms = rebuilt.caught_up.as_millis() as u64,
            "search index rebuilt"
        );
        Ok(Response::new(pb::ReindexResponse {
            documents: rebuilt.documents,
            took_millis: u64::try_from(rebuilt.took.as_millis()).unwrap_or(u64::MAX),
        }))
    }
}
