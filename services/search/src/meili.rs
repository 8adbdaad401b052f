//! The Meilisearch engine, used in production when a URL is configured.
//!
//! Index settings are explicit and applied on first use: searchable attributes in ranking order
//! (title, tags, category and agency, description, columns), filterable and sortable attributes,
//! typo tolerance from the shared rules ([`ONE_TYPO_MIN_CHARS`], [`TWO_TYPOS_MIN_CHARS`]), the
//! shared stop words, the configured synonyms, and `sort` placed before relevance so an explicit
//! order is a real order. A write sends all its tasks (many documents each) before it waits, and
//! returns once the last is done, so a group of events is acknowledged only once its changes are
//! searchable; a Meilisearch outage fails the write and the events wait.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt as _, StreamExt as _};
use meilisearch_sdk::DefaultHttpClient;
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::documents::DocumentsQuery;
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode as MeiliCode, ErrorType};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{
    FacetSortValue, FacetingSettings, MinWordSizeForTypos, PaginationSetting, Settings,
    TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use secrecy::ExposeSecret as _;
use tokio::sync::OnceCell;

use crate::backend::{BackendError, BackendFuture, Change, DocumentBatches, SearchBackend};
use crate::config::MeilisearchSettings;
use crate::document::SearchDocument;
use crate::query::{
    FacetField, Hit, MAX_FACET_VALUES, MAX_WINDOW, ONE_TYPO_MIN_CHARS, STOP_WORDS, SearchPage,
    SearchQuery, Sort, Suggestion, TWO_TYPOS_MIN_CHARS, has_words, top_facet_values,
};
use crate::synonyms::Synonyms;

/// Searchable attributes, most important first.
const SEARCHABLE: &[&str] = &[
    "title",
    "tags",
    "category",
    "agency_name",
    "agency_id",
    "description",
    "column_names",
    "column_descriptions",
];
/// Attributes searches filter on; the `award.` ones only award documents have.
const FILTERABLE: &[&str] = &[
    "id",
    "type",
    "agency_id",
    "category",
    "tags",
    "award.municipality",
    "award.program_id",
    "award.fiscal_year",
    "updated_at",
];
/// Attributes searches sort on.
const SORTABLE: &[&str] = &["title_sort", "updated_at", "created_at", "id"];
/// Ranking rules: an explicit sort first, then Meilisearch's relevance rules.
const RANKING_RULES: &[&str] = &[
    "sort",
    "words",
    "typo",
    "proximity",
    "attribute",
    "exactness",
];
/// Documents sent per indexing task.
const BATCH: usize = 1_000;
/// Indexing tasks a rebuild lets wait at once (each of [`BATCH`] documents).
const QUEUED_TASKS: usize = 4;
/// Longest one HTTP call to Meilisearch may take before it counts as down (the SDK sets none).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a write polls its task.
const TASK_POLL: Duration = Duration::from_millis(50);

/// The Meilisearch engine.
pub struct MeiliBackend {
    client: Client,
    index: String,
    synonyms: Synonyms,
    task_timeout: Duration,
    ready: OnceCell<()>,
}

/// Whether retrying later may help: transport failures, timeouts, server-side errors, overload.
fn classify(error: MeiliError) -> BackendError {
    let transient = match &error {
        MeiliError::HttpError(_) | MeiliError::Timeout => true,
        MeiliError::MeilisearchCommunication(c) => c.status_code >= 500 || c.status_code == 429,
        MeiliError::Meilisearch(e) => {
            matches!(e.error_type, ErrorType::Internal | ErrorType::Unknown)
        }
        _ => false,
    };
    if transient {
        BackendError::Unavailable(error.to_string())
    } else {
        BackendError::Failed(error.to_string())
    }
}

fn is_index_not_found(error: &MeiliError) -> bool {
    matches!(error, MeiliError::Meilisearch(e) if e.error_code == MeiliCode::IndexNotFound)
}

/// One call to Meilisearch, bounded by [`REQUEST_TIMEOUT`].
async fn call<T>(request: impl Future<Output = Result<T, MeiliError>>) -> Result<T, MeiliError> {
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .unwrap_or(Err(MeiliError::Timeout))
}

/// A filter value in Meilisearch's syntax: double-quoted, with its filter parser's escapes:
/// backslashes first (it decodes `\\` and `\x` inside values), then quotes.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn any_of(attribute: &str, values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| {
        let list: Vec<String> = values.iter().map(|v| quoted(v)).collect();
        format!("{attribute} IN [{}]", list.join(", "))
    })
}

/// The filter expression of a query's filters; `None` when there are none.
fn filter_expression(query: &SearchQuery) -> Option<String> {
    let filters = &query.filters;
    let mut clauses: Vec<String> = [
        any_of("agency_id", &filters.agencies),
        any_of("category", &filters.categories),
        any_of("type", &filters.types),
        any_of("id", &filters.ids),
        any_of("award.municipality", &filters.municipalities),
        any_of("award.program_id", &filters.program_ids),
        (!filters.fiscal_years.is_empty()).then(|| {
            let years: Vec<String> = filters.fiscal_years.iter().map(i32::to_string).collect();
            format!("award.fiscal_year IN [{}]", years.join(", "))
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    clauses.extend(
        filters
            .updated_since
            .map(|since| format!("updated_at >= {since}")),
    );
    clauses.extend(
        filters
            .tags
            .iter()
            .map(|tag| format!("tags = {}", quoted(tag))),
    );
    (!clauses.is_empty()).then(|| clauses.join(" AND "))
}

fn facet_attribute(facet: FacetField) -> &'static str {
    match facet {
        FacetField::Agency => "agency_id",
        FacetField::Category => "category",
        FacetField::Tags => "tags",
        FacetField::Type => "type",
    }
}

/// Sort expressions for a query's order; `no_text` when there are no words to rank by.
fn sort_expressions(query: &SearchQuery, no_text: bool) -> Vec<&'static str> {
    let direction = |reverse: bool, normal: &'static str, reversed: &'static str| {
        if reverse { reversed } else { normal }
    };
    match query.sort {
        Sort::Relevance if no_text => vec!["updated_at:desc", "id:asc"],
        Sort::Relevance => Vec::new(),
        Sort::Name { reverse } => vec![
            direction(reverse, "title_sort:asc", "title_sort:desc"),
            "id:asc",
        ],
        Sort::Updated { reverse } => vec![
            direction(reverse, "updated_at:desc", "updated_at:asc"),
            "id:asc",
        ],
        Sort::Created { reverse } => vec![
            direction(reverse, "created_at:desc", "created_at:asc"),
            "id:asc",
        ],
    }
}

/// What a search asks Meilisearch, decided from the query alone: one request carrying the
/// text, filters, order, page and facets.
struct Request {
    text: String,
    filter: Option<String>,
    sort: Vec<&'static str>,
    facets: Vec<&'static str>,
    offset: usize,
    limit: usize,
}

impl Request {
    fn new(query: &SearchQuery) -> Request {
        // Text of stop words only is no text, as in the embedded engine.
        let text = if has_words(&query.text) {
            query.text.clone()
        } else {
            String::new()
        };
        Request {
            filter: filter_expression(query),
            sort: sort_expressions(query, text.is_empty()),
            facets: query.facets.iter().map(|f| facet_attribute(*f)).collect(),
            text,
            offset: query.offset,
            limit: query.limit,
        }
    }

    /// The SDK's request on `index`.
    fn on<'a>(
        &'a self,
        index: &'a Index,
    ) -> meilisearch_sdk::search::SearchQuery<'a, DefaultHttpClient> {
        let mut search = index.search();
        search
            .with_query(&self.text)
            .with_offset(self.offset)
            .with_limit(self.limit)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_show_ranking_score(true);
        if let Some(filter) = &self.filter {
            search.with_filter(filter);
        }
        if !self.sort.is_empty() {
            search.with_sort(&self.sort);
        }
        if !self.facets.is_empty() {
            search.with_facets(Selectors::Some(&self.facets));
        }
        search
    }
}

impl MeiliBackend {
    /// A client of the configured server; nothing is contacted until first use.
    pub fn new(
        settings: &MeilisearchSettings,
        synonyms: Synonyms,
    ) -> Result<MeiliBackend, BackendError> {
        let key = settings
            .api_key
            .as_ref()
            .map(|key| key.expose_secret().to_owned());
        let client = Client::new(settings.url.trim_end_matches('/'), key)
            .map_err(|e| BackendError::Failed(format!("meilisearch client: {e}")))?;
        Ok(MeiliBackend {
            client,
            index: format!("{}documents", settings.index_prefix),
            synonyms,
            task_timeout: Duration::from_secs(settings.task_timeout_secs.max(1)),
            ready: OnceCell::new(),
        })
    }

    fn settings(&self) -> Settings {
        Settings::new()
            .with_searchable_attributes(SEARCHABLE)
            .with_filterable_attributes(FILTERABLE)
            .with_sortable_attributes(SORTABLE)
            .with_ranking_rules(RANKING_RULES)
            .with_stop_words(STOP_WORDS)
            .with_synonyms(self.synonyms.as_map().clone())
            .with_typo_tolerance(TypoToleranceSettings {
                enabled: Some(true),
                min_word_size_for_typos: Some(MinWordSizeForTypos {
                    one_typo: Some(ONE_TYPO_MIN_CHARS as u8),
                    two_typos: Some(TWO_TYPOS_MIN_CHARS as u8),
                }),
                ..Default::default()
            })
            .with_pagination(PaginationSetting {
                max_total_hits: MAX_WINDOW,
            })
            .with_faceting(FacetingSettings {
                max_values_per_facet: MAX_FACET_VALUES,
                // Keep the most frequent values, not the first ones alphabetically.
                sort_facet_values_by: Some(BTreeMap::from([(
                    "*".to_owned(),
                    FacetSortValue::Count,
                )])),
            })
    }

    /// Waits for a task; `Ok(Err(error))` when Meilisearch could not do it.
    async fn wait(
        &self,
        task: TaskInfo,
    ) -> Result<Result<(), meilisearch_sdk::errors::MeilisearchError>, BackendError> {
        let waited = tokio::time::timeout(
            self.task_timeout,
            task.wait_for_completion(&self.client, Some(TASK_POLL), Some(self.task_timeout)),
        )
        .await
        .unwrap_or(Err(MeiliError::Timeout))
        .map_err(classify)?;
        Ok(match waited {
            Task::Failed { content } => Err(content.error),
            _ => Ok(()),
        })
    }

    /// Waits for a task and fails if Meilisearch could not do it: [`BackendError::Refused`] when
    /// it refused a document, [`BackendError::Failed`] otherwise.
    async fn finish(&self, task: TaskInfo) -> Result<(), BackendError> {
        self.wait(task).await?.map_err(|error| {
            let refused_a_document = matches!(
                error.error_code,
                MeiliCode::InvalidDocumentId
                    | MeiliCode::MissingDocumentId
                    | MeiliCode::InvalidDocumentFields
                    | MeiliCode::InvalidDocumentGeoField
                    | MeiliCode::MaxFieldsLimitExceeded
            );
            let reason = format!("meilisearch task failed: {error}");
            if refused_a_document {
                BackendError::Refused(reason)
            } else {
                BackendError::Failed(reason)
            }
        })
    }

    /// Creates `uid` (an existing index is fine only when `reuse`) and applies the settings.
    async fn prepare_index(&self, uid: &str, reuse: bool) -> Result<(), BackendError> {
        let task = call(self.client.create_index(uid, Some("id")))
            .await
            .map_err(classify)?;
        match self.wait(task).await? {
            Ok(()) => {}
            Err(error) if reuse && error.error_code == MeiliCode::IndexAlreadyExists => {}
            Err(error) => {
                return Err(BackendError::Failed(format!(
                    "creating index {uid}: {error}"
                )));
            }
        }
        let index = self.client.index(uid);
        let task = call(index.set_settings(&self.settings()))
            .await
            .map_err(classify)?;
        self.finish(task).await
    }

    /// Makes sure the live index exists with the current settings, once per process; writes call
    /// it, searches never wait for it.
    async fn ready(&self) -> Result<(), BackendError> {
        self.ready
            .get_or_try_init(|| self.prepare_index(&self.index, true))
            .await
            .map(|_| ())
    }

    /// Sends `documents` to index `uid` in tasks of [`BATCH`], without waiting for them; once
    /// more than `queued` tasks wait, waits for the oldest first.
    async fn send(
        &self,
        uid: &str,
        documents: &[SearchDocument],
        tasks: &mut Vec<TaskInfo>,
        queued: usize,
    ) -> Result<(), BackendError> {
        let index = self.client.index(uid);
        for batch in documents.chunks(BATCH) {
            tasks.push(
                call(index.add_or_replace(batch, Some("id")))
                    .await
                    .map_err(classify)?,
            );
            while tasks.len() > queued {
                self.finish(tasks.remove(0)).await?;
            }
        }
        Ok(())
    }

    /// Sends the deletion of `ids` from the live index, without waiting for it.
    async fn send_deletes(
        &self,
        ids: &[String],
        tasks: &mut Vec<TaskInfo>,
    ) -> Result<(), BackendError> {
        let index = self.client.index(&self.index);
        tasks.push(call(index.delete_documents(ids)).await.map_err(classify)?);
        Ok(())
    }

    /// Waits for `tasks` in the order they were sent, and fails if Meilisearch could not do one.
    /// Meilisearch runs an index's tasks in that order (and batches consecutive ones of a kind),
    /// so this takes as long as the last one.
    async fn finish_all(&self, tasks: Vec<TaskInfo>) -> Result<(), BackendError> {
        for task in tasks {
            self.finish(task).await?;
        }
        Ok(())
    }

    /// Deletes an index; one that does not exist is fine.
    async fn drop_index(&self, uid: &str) -> Result<(), BackendError> {
        let task = call(self.client.delete_index(uid))
            .await
            .map_err(classify)?;
        match self.wait(task).await? {
            Ok(()) => Ok(()),
            Err(error) if error.error_code == MeiliCode::IndexNotFound => Ok(()),
            Err(error) => Err(BackendError::Failed(format!(
                "deleting index {uid}: {error}"
            ))),
        }
    }

    /// The index a search goes to and the JSON body it sends, exactly as [`SearchBackend::search`]
    /// sends them: for the benchmark, which measures Meilisearch directly with the portal's own
    /// requests (the reason this crate depends on `serde_json`).
    pub fn search_request(
        &self,
        query: &SearchQuery,
    ) -> Result<(String, serde_json::Value), serde_json::Error> {
        let index = self.client.index(&self.index);
        let request = Request::new(query);
        Ok((
            self.index.clone(),
            serde_json::to_value(request.on(&index))?,
        ))
    }

    async fn run_search(&self, query: &SearchQuery) -> Result<SearchPage, BackendError> {
        let index = self.client.index(&self.index);
        let request = Request::new(query);
        let search = request.on(&index);
        let results = match call(search.execute::<SearchDocument>()).await {
            Ok(results) => results,
            // Nothing was ever indexed.
            Err(error) if is_index_not_found(&error) => return Ok(SearchPage::default()),
            Err(error) => return Err(classify(error)),
        };
        let mut distribution = results.facet_distribution.unwrap_or_default();
        let facets = query
            .facets
            .iter()
            .map(|&facet| {
                let counts = distribution
                    .remove(facet_attribute(facet))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(value, count)| (value, count as u64));
                (facet, top_facet_values(counts))
            })
            .collect();
        Ok(SearchPage {
            total: results
                .estimated_total_hits
                .or(results.total_hits)
                .unwrap_or(results.hits.len()) as u64,
            hits: results
                .hits
                .into_iter()
                .map(|hit| Hit {
                    score: hit.ranking_score.unwrap_or_default(),
                    document: Arc::new(hit.result),
                })
                .collect(),
            facets,
        })
    }

    async fn run_suggest(&self, suggestion: &Suggestion) -> Result<Vec<String>, BackendError> {
        let limit = suggestion.limit;
        if !has_words(&suggestion.prefix) {
            return Ok(Vec::new());
        }
        let index = self.client.index(&self.index);
        let mut search = index.search();
        let filter = any_of("type", &suggestion.types);
        search
            .with_query(&suggestion.prefix)
            .with_attributes_to_search_on(&["title"])
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_limit(limit * 2);
        if let Some(filter) = &filter {
            search.with_filter(filter);
        }
        let results = match call(search.execute::<SearchDocument>()).await {
            Ok(results) => results,
            Err(error) if is_index_not_found(&error) => return Ok(Vec::new()),
            Err(error) => return Err(classify(error)),
        };
        let mut titles: Vec<String> = Vec::new();
        for hit in results.hits {
            if !titles.contains(&hit.result.title) {
                titles.push(hit.result.title);
            }
        }
        titles.truncate(limit);
        Ok(titles)
    }

    async fn run_apply(&self, changes: Vec<Change>) -> Result<(), BackendError> {
        self.ready().await?;
        // Consecutive changes of one kind go in one task; order between kinds is kept. Every task
        // is sent before any is waited for.
        let mut tasks = Vec::new();
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for change in changes {
            match change {
                Change::Upsert(document) => {
                    if !deletes.is_empty() {
                        self.send_deletes(&std::mem::take(&mut deletes), &mut tasks)
                            .await?;
                    }
                    upserts.push(*document);
                }
                Change::Delete(id) => {
                    if !upserts.is_empty() {
                        let upserts = std::mem::take(&mut upserts);
                        self.send(&self.index, &upserts, &mut tasks, usize::MAX)
                            .await?;
                    }
                    deletes.push(id);
                }
            }
        }
        if !deletes.is_empty() {
            self.send_deletes(&deletes, &mut tasks).await?;
        }
        if !upserts.is_empty() {
            self.send(&self.index, &upserts, &mut tasks, usize::MAX)
                .await?;
        }
        self.finish_all(tasks).await
    }

    async fn run_replace_all(&self, mut batches: DocumentBatches<'_>) -> Result<(), BackendError> {
        self.ready().await?;
        // A fresh name per rebuild: never a leftover of an aborted one, never another replica's.
        let next = format!(
            "{}_next_{}",
            self.index,
            chrono::Utc::now().timestamp_micros()
        );
        let built = async {
            self.prepare_index(&next, false).await?;
            // Each batch is sent as it is read; Meilisearch indexes while the rest is read. A few
            // tasks at most wait at once, so none waits behind the whole catalogue and times out.
            let mut tasks = Vec::new();
            while let Some(batch) = batches.next().await {
                self.send(&next, &batch?, &mut tasks, QUEUED_TASKS).await?;
            }
            self.finish_all(tasks).await?;
            let swap = SwapIndexes {
                indexes: (self.index.clone(), next.clone()),
                rename: None,
            };
            let task = call(self.client.swap_indexes([&swap]))
                .await
                .map_err(classify)?;
            self.finish(task).await
        }
        .await;
        // After a swap `next` holds the old documents; after a failure, the partial new ones.
        if let Err(error) = self.drop_index(&next).await {
            tracing::warn!(index = %next, %error, "could not delete a rebuild's spare index");
        }
        built
    }

    /// Documents in the live index. Makes sure of the index and its settings first (once per
    /// process; the service counts before it serves), so an index an older version left gets
    /// this version's filterable attributes before any search needs them.
    async fn run_count(&self) -> Result<u64, BackendError> {
        self.ready().await?;
        let index = self.client.index(&self.index);
        let mut query = DocumentsQuery::new(&index);
        query.with_limit(1);
        match call(index.get_documents_with::<SearchDocument>(&query)).await {
            Ok(documents) => Ok(u64::from(documents.total)),
            Err(error) if is_index_not_found(&error) => Ok(0),
            Err(error) => Err(classify(error)),
        }
    }
}

impl SearchBackend for MeiliBackend {
    fn name(&self) -> &'static str {
        "meilisearch"
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BackendFuture<'a, SearchPage> {
        self.run_search(query).boxed()
    }

    fn suggest<'a>(&'a self, suggestion: &'a Suggestion) -> BackendFuture<'a, Vec<String>> {
        self.run_suggest(suggestion).boxed()
    }

    fn apply(&self, changes: Vec<Change>) -> BackendFuture<'_, ()> {
        self.run_apply(changes).boxed()
    }

    fn replace_all<'a>(&'a self, batches: DocumentBatches<'a>) -> BackendFuture<'a, ()> {
        self.run_replace_all(batches).boxed()
    }

    fn refresh(&self) -> BackendFuture<'_, ()> {
        // Writes wait for their task, so what was applied is already searchable.
        async { Ok(()) }.boxed()
    }

    fn count(&self) -> BackendFuture<'_, u64> {
        self.run_count().boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Filters;

    fn query(filters: Filters, sort: Sort, text: &str) -> SearchQuery {
        SearchQuery {
            text: text.to_owned(),
            filters,
            sort,
            offset: 0,
            limit: 10,
            facets: Vec::new(),
        }
    }

    #[test]
    fn backslashes_and_quotes_are_escaped_in_that_order() {
        assert_eq!(quoted(r"c\d"), r#""c\\d""#);
        assert_eq!(quoted("x\\"), r#""x\\""#);
        assert_eq!(quoted(r#"a"b\"#), r#""a\"b\\""#);
        assert_eq!(quoted(r"\n"), r#""\\n""#);
    }

    #[test]
    fn filters_are_quoted_and_combined() {
        let filters = Filters {
            agencies: vec!["opm".into(), "decd".into()],
            tags: vec!["say \"hi\" \\o/".into(), "tax".into()],
            ..Filters::default()
        };
        let awards = Filters {
            municipalities: vec!["Hartford".into()],
            fiscal_years: vec![2017, 2018],
            ..Filters::default()
        };
        assert_eq!(
            filter_expression(&query(awards, Sort::Relevance, "")).as_deref(),
            Some(r#"award.municipality IN ["Hartford"] AND award.fiscal_year IN [2017, 2018]"#)
        );
        assert_eq!(
            filter_expression(&query(filters, Sort::Relevance, "")).as_deref(),
            Some(r#"agency_id IN ["opm", "decd"] AND tags = "say \"hi\" \\o/" AND tags = "tax""#)
        );
        let recent = Filters {
            types: vec!["dataset".into()],
            updated_since: Some(1_764_000_000_000),
            ..Filters::default()
        };
        assert_eq!(
            filter_expression(&query(recent, Sort::Relevance, "")).as_deref(),
            Some(r#"type IN ["dataset"] AND updated_at >= 1764000000000"#)
        );
        assert_eq!(
            filter_expression(&query(Filters::default(), Sort::Relevance, "")),
            None
        );
    }

    #[test]
    fn empty_text_sorts_by_recency_and_orders_can_be_reversed() {
        let empty = query(Filters::default(), Sort::Relevance, " ");
        assert_eq!(
            sort_expressions(&empty, true),
            ["updated_at:desc", "id:asc"]
        );
        let text = query(Filters::default(), Sort::Relevance, "tax");
        assert!(sort_expressions(&text, false).is_empty());
        let by_name = query(Filters::default(), Sort::Name { reverse: true }, "tax");
        assert_eq!(
            sort_expressions(&by_name, false),
            ["title_sort:desc", "id:asc"]
        );
    }
}
