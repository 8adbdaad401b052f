//! The embedded engine: a tantivy index in memory, used when no Meilisearch URL is configured.
//!
//! A [`Generation`] is one tantivy index with its writer and the [`Snapshot`] searches read: the
//! committed searcher together with the documents it can return, swapped in as one value after
//! every commit, so a search never sees a document the index does not hold or the reverse.
//! Changes are staged and committed together at most [`REFRESH_INTERVAL`] later.
//! [`SearchBackend::replace_all`] builds a whole new generation and swaps it in; searches keep
//! reading the old one until then. The index lives in memory: on start the service rebuilds it
//! from the catalog.

mod collect;
mod text;
mod typos;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::{FutureExt as _, StreamExt as _};
use tantivy::query::{AllQuery, Query};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, Term};

use crate::backend::{BackendError, BackendFuture, Change, DocumentBatches, SearchBackend};
use crate::document::SearchDocument;
use crate::query::{Hit, SearchPage, SearchQuery, Sort, Suggestion};
use crate::synonyms::Synonyms;
use collect::MatchCollector;
use text::Fields;

/// Memory the single indexing thread may buffer before it flushes a segment.
const WRITER_MEMORY_BYTES: usize = 32 * 1024 * 1024;
/// Longest a change waits before it is committed and searchable. Changes arriving meanwhile share
/// the commit, so a burst of events costs one commit per interval rather than one per event.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(50);

/// What a search reads: a committed searcher and the documents behind its keys.
struct Snapshot {
    searcher: Searcher,
    documents: HashMap<u64, Arc<SearchDocument>>,
    keys: HashMap<String, u64>,
}

/// What the next snapshot will hold: the current one with the staged changes applied.
struct Staged {
    documents: HashMap<u64, Arc<SearchDocument>>,
    keys: HashMap<String, u64>,
}

/// The writer side of a generation.
struct WriterState {
    writer: IndexWriter,
    next_key: u64,
    staged: Option<Staged>,
}

/// One tantivy index and its current snapshot.
struct Generation {
    fields: Fields,
    synonyms: Arc<Synonyms>,
    writer: Mutex<WriterState>,
    reader: IndexReader,
    snapshot: RwLock<Arc<Snapshot>>,
    refresh_scheduled: AtomicBool,
}

fn failed(error: impl std::fmt::Display) -> BackendError {
    BackendError::Failed(error.to_string())
}

impl Generation {
    /// A new, empty index.
    fn empty(synonyms: Arc<Synonyms>) -> Result<Generation, BackendError> {
        let (schema, fields) = text::schema();
        let index = Index::create_in_ram(schema);
        text::register(&index);
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY_BYTES)
            .map_err(failed)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(failed)?;
        let empty = Snapshot {
            searcher: reader.searcher(),
            documents: HashMap::new(),
            keys: HashMap::new(),
        };
        Ok(Generation {
            fields,
            synonyms,
            writer: Mutex::new(WriterState {
                writer,
                next_key: 0,
                staged: None,
            }),
            reader,
            snapshot: RwLock::new(Arc::new(empty)),
            refresh_scheduled: AtomicBool::new(false),
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Stages `changes` in the writer; [`Generation::refresh`] makes them searchable. Deleting
    /// what the index does not hold costs nothing (most events of private datasets are that).
    /// Returns whether anything was staged.
    fn stage(&self, changes: Vec<Change>) -> Result<bool, BackendError> {
        let mut state = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot();
        let known = |id: &str| match &state.staged {
            Some(staged) => staged.keys.contains_key(id),
            None => current.keys.contains_key(id),
        };
        let no_op = changes
            .iter()
            .all(|change| matches!(change, Change::Delete(id) if !known(id)));
        if no_op {
            return Ok(false);
        }
        let mut staged = state.staged.take().unwrap_or_else(|| Staged {
            documents: current.documents.clone(),
            keys: current.keys.clone(),
        });
        for change in changes {
            let id = change.id().to_owned();
            if let Some(old) = staged.keys.remove(&id) {
                staged.documents.remove(&old);
            }
            state
                .writer
                .delete_term(Term::from_field_text(self.fields.id, &id));
            if let Change::Upsert(document) = change {
                let key = state.next_key;
                state.next_key += 1;
                let added =
                    state
                        .writer
                        .add_document(text::to_tantivy(&self.fields, &document, key));
                if let Err(error) = added {
                    state.staged = Some(staged);
                    return Err(failed(error));
                }
                staged.keys.insert(id, key);
                staged.documents.insert(key, Arc::new(*document));
            }
        }
        state.staged = Some(staged);
        Ok(true)
    }

    /// Commits what is staged and publishes the new snapshot.
    fn refresh(&self) -> Result<(), BackendError> {
        let mut state = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(staged) = state.staged.take() else {
            return Ok(());
        };
        if let Err(error) = state.writer.commit() {
            // Back to the last commit, which matches the snapshot searches read.
            let _ = state.writer.rollback();
            return Err(failed(error));
        }
        self.reader.reload().map_err(failed)?;
        let next = Snapshot {
            searcher: self.reader.searcher(),
            documents: staged.documents,
            keys: staged.keys,
        };
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }

    /// Every document matching `query`, with its score.
    fn matches(
        &self,
        snapshot: &Snapshot,
        query: &dyn Query,
    ) -> Result<Vec<(Arc<SearchDocument>, f32)>, BackendError> {
        let found = snapshot
            .searcher
            .search(query, &MatchCollector { key_field: "key" })
            .map_err(failed)?;
        Ok(found
            .into_iter()
            .filter_map(|(key, score)| {
                snapshot
                    .documents
                    .get(&key)
                    .map(|document| (Arc::clone(document), score))
            })
            .collect())
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchPage, BackendError> {
        let snapshot = self.snapshot();
        let text = text::text_query(&self.fields.searchable, &query.text, &self.synonyms);
        let ranked = text.is_some();
        let text = text.unwrap_or_else(|| Box::new(AllQuery));
        let mut hits = self.matches(&snapshot, text.as_ref())?;
        hits.retain(|(document, _)| query.filters.admit(document));

        let mut facets = BTreeMap::new();
        for &facet in &query.facets {
            let counts = crate::query::count_facet_values(
                hits.iter().map(|(document, _)| facet.values(document)),
            );
            facets.insert(facet, crate::query::top_facet_values(counts));
        }

        let newest_first = |a: &SearchDocument, b: &SearchDocument| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.id.cmp(&b.id))
        };
        let order = |(a, score_a): &(Arc<SearchDocument>, f32),
                     (b, score_b): &(Arc<SearchDocument>, f32)| match query.sort
        {
            Sort::Relevance if ranked => score_b
                .partial_cmp(score_a)
                .unwrap_or(Ordering::Equal)
                .then_with(|| newest_first(a, b)),
            Sort::Relevance => newest_first(a, b),
            Sort::Name { reverse } => {
                let order = a.title_sort.cmp(&b.title_sort);
                if reverse { order.reverse() } else { order }.then_with(|| a.id.cmp(&b.id))
            }
            Sort::Updated { reverse } => {
                let order = b.updated_at.cmp(&a.updated_at);
                if reverse { order.reverse() } else { order }.then_with(|| a.id.cmp(&b.id))
            }
            Sort::Created { reverse } => {
                let order = b.created_at.cmp(&a.created_at);
                if reverse { order.reverse() } else { order }.then_with(|| a.id.cmp(&b.id))
            }
        };
        let total = hits.len() as u64;
        // Only the requested window needs ordering: select it, then sort it.
        let window = query.offset.saturating_add(query.limit);
        if window == 0 {
            hits.clear();
        } else if window < hits.len() {
            hits.select_nth_unstable_by(window - 1, order);
            hits.truncate(window);
        }
        hits.sort_by(order);
        let hits = hits
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|(document, score)| Hit {
                document,
                score: f64::from(score),
            })
            .collect();
        Ok(SearchPage {
            hits,
            total,
            facets,
        })
    }

    fn suggest(&self, suggestion: &Suggestion) -> Result<Vec<String>, BackendError> {
        let title = [(self.fields.title, 1.0)];
        let Some(query) = text::text_query(&title, &suggestion.prefix, &self.synonyms) else {
            return Ok(Vec::new());
        };
        let snapshot = self.snapshot();
        let mut hits = self.matches(&snapshot, query.as_ref())?;
        hits.sort_by(|(a, score_a), (b, score_b)| {
            score_b
                .partial_cmp(score_a)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.title_sort.cmp(&b.title_sort))
        });
        let mut seen = HashSet::new();
        Ok(hits
            .into_iter()
            .filter(|(document, _)| {
                suggestion.types.is_empty()
                    || suggestion.types.iter().any(|t| t == document.kind.as_str())
            })
            .filter(|(document, _)| seen.insert(document.title.clone()))
            .take(suggestion.limit)
            .map(|(document, _)| document.title.clone())
            .collect())
    }
}

/// The embedded engine.
pub struct EmbeddedBackend {
    generation: RwLock<Arc<Generation>>,
    synonyms: Arc<Synonyms>,
}

impl EmbeddedBackend {
    /// An empty index expanding queries with `synonyms`.
    pub fn new(synonyms: Synonyms) -> Result<EmbeddedBackend, BackendError> {
        let synonyms = Arc::new(synonyms);
        Ok(EmbeddedBackend {
            generation: RwLock::new(Arc::new(Generation::empty(Arc::clone(&synonyms))?)),
            synonyms,
        })
    }

    fn current(&self) -> Arc<Generation> {
        Arc::clone(&self.generation.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Runs blocking index work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| BackendError::Failed(format!("index task failed: {error}")))?
}

impl SearchBackend for EmbeddedBackend {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BackendFuture<'a, SearchPage> {
        let generation = self.current();
        let query = query.clone();
        blocking(move || generation.search(&query)).boxed()
    }

    fn suggest<'a>(&'a self, suggestion: &'a Suggestion) -> BackendFuture<'a, Vec<String>> {
        let generation = self.current();
        let suggestion = suggestion.clone();
        blocking(move || generation.suggest(&suggestion)).boxed()
    }

    fn apply(&self, changes: Vec<Change>) -> BackendFuture<'_, ()> {
        let generation = self.current();
        async move {
            let staging = Arc::clone(&generation);
            let staged = blocking(move || staging.stage(changes)).await?;
            if staged
                && !generation
                    .refresh_scheduled
                    .swap(true, AtomicOrdering::AcqRel)
            {
                tokio::spawn(async move {
                    tokio::time::sleep(REFRESH_INTERVAL).await;
                    generation
                        .refresh_scheduled
                        .store(false, AtomicOrdering::Release);
                    if let Err(error) = blocking(move || generation.refresh()).await {
                        tracing::error!(%error, "committing search index changes failed");
                    }
                });
            }
            Ok(())
        }
        .boxed()
    }

    fn refresh(&self) -> BackendFuture<'_, ()> {
        let generation = self.current();
        blocking(move || generation.refresh()).boxed()
    }

    fn replace_all<'a>(&'a self, mut batches: DocumentBatches<'a>) -> BackendFuture<'a, ()> {
        async move {
            let synonyms = Arc::clone(&self.synonyms);
            let next = Arc::new(blocking(move || Generation::empty(synonyms)).await?);
            while let Some(batch) = batches.next().await {
                let changes = batch?
                    .into_iter()
                    .map(|document| Change::Upsert(Box::new(document)))
                    .collect();
                let staging = Arc::clone(&next);
                blocking(move || staging.stage(changes)).await?;
            }
            let committing = Arc::clone(&next);
            blocking(move || committing.refresh()).await?;
            *self.generation.write().unwrap_or_else(|e| e.into_inner()) = next;
            Ok(())
        }
        .boxed()
    }

    fn count(&self) -> BackendFuture<'_, u64> {
        let count = self.current().snapshot().documents.len() as u64;
        async move { Ok(count) }.boxed()
    }
}
