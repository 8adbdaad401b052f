//! The one trait both engines implement, so the service, its consumers and the behaviour tests
//! never know which engine answers.

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use opendata_platform::error::{ApiError, ErrorCode};

use crate::document::SearchDocument;
use crate::query::{SearchPage, SearchQuery, Suggestion};

/// Why an engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The engine cannot be reached or is overloaded; retrying later may succeed.
    #[error("search engine unavailable: {0}")]
    Unavailable(String),
    /// The engine failed in a way retrying will not fix.
    #[error("search engine failed: {0}")]
    Failed(String),
    /// The engine refused a document it was given (a bad id, a field it cannot index): the
    /// others written with it may still be taken one by one.
    #[error("search engine refused a document: {0}")]
    Refused(String),
}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::Unavailable(reason) => ApiError::new(
                ErrorCode::Unavailable,
                format!("search is unavailable, retry later ({reason})"),
            ),
            failed @ (BackendError::Failed(_) | BackendError::Refused(_)) => {
                opendata_platform::error::internal(&failed)
            }
        }
    }
}

/// One change to the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add the document, replacing any with the same id.
    Upsert(Box<SearchDocument>),
    /// Remove the document with this id, if there is one.
    Delete(String),
}

impl Change {
    /// The id of the document it changes.
    pub fn id(&self) -> &str {
        match self {
            Change::Upsert(document) => &document.id,
            Change::Delete(id) => id,
        }
    }
}

/// A future an engine returns.
pub type BackendFuture<'a, T> = BoxFuture<'a, Result<T, BackendError>>;

/// Documents in batches, as a rebuild reads them from their sources; an error ends the rebuild
/// and leaves the live index as it was.
pub type DocumentBatches<'a> = BoxStream<'a, Result<Vec<SearchDocument>, BackendError>>;

/// A full-text engine over [`SearchDocument`]s. Implementations are shared across tasks.
pub trait SearchBackend: Send + Sync + 'static {
    /// The engine's name, for logs and health (`embedded`, `meilisearch`).
    fn name(&self) -> &'static str;

    /// Whether every replica of the search service reads and writes this same index (a
    /// Meilisearch server), so the replicas share the events; otherwise each replica holds an
    /// index of its own and needs every event itself.
    fn is_shared(&self) -> bool;

    /// Runs a search.
    fn search<'a>(&'a self, query: &'a SearchQuery) -> BackendFuture<'a, SearchPage>;

    /// Titles completing `prefix`, best first.
    fn suggest<'a>(&'a self, suggestion: &'a Suggestion) -> BackendFuture<'a, Vec<String>>;

    /// Applies changes in order. Searches see them once the engine refreshes: at once for
    /// Meilisearch, within [`crate::embedded::REFRESH_INTERVAL`] for the embedded engine.
    fn apply(&self, changes: Vec<Change>) -> BackendFuture<'_, ()>;

    /// Makes every applied change searchable now.
    fn refresh(&self) -> BackendFuture<'_, ()>;

    /// Builds a new index holding exactly the documents of `batches`, indexing each batch as it
    /// arrives, then swaps it in; searches are answered from the old index until the swap.
    fn replace_all<'a>(&'a self, batches: DocumentBatches<'a>) -> BackendFuture<'a, ()>;

    /// Documents in the index.
    fn count(&self) -> BackendFuture<'_, u64>;
}
