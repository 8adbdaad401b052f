//! The Meilisearch engine, used in production when a URL is configured.
//!
//! Index settings are explicit and applied on first use: searchable attributes in ranking order
//! (title, tags, category and agency, description, columns), filterable and sortable attributes,
//! typo tolerance from the shared rules ([`ONE_TYPO_MIN_CHARS`], [`TWO_TYPOS_MIN_CHARS`]), the
//! shared stop words, the configured synonyms, and `sort` placed before relevance so an explicit
//! order is a real order. Writes wait for Meilisearch's task to finish, so an event is acknowledged
//! only once its change is searchable; a Meilisearch outage fails the write and the event waits.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode as MeiliCode};
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{
    FacetingSettings, MinWordSizeForTypos, PaginationSetting, Settings, TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use secrecy::ExposeSecret as _;
use tokio::sync::OnceCell;

use crate::backend::{BackendError, BackendFuture, Change, SearchBackend};
use crate::config::MeilisearchSettings;
use crate::document::SearchDocument;
use crate::query::{
    FacetField, Hit, MAX_FACET_VALUES, MAX_WINDOW, ONE_TYPO_MIN_CHARS, STOP_WORDS, SearchPage,
    SearchQuery, Sort, TWO_TYPOS_MIN_CHARS, top_facet_values,
};
use crate::synonyms::Synonyms;

/// Searchable attributes, most important first.
const SEARCHABLE: &[&str] = &[
    "title",
    "tags",
    "category",
    "agency_name",
    "description",
    "column_names",
    "column_descriptions",
];
/// Attributes searches filter on.
const FILTERABLE: &[&str] = &["id", "type", "agency_id", "category", "tags"];
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

/// The Meilisearch engine.
pub struct MeiliBackend {
    client: Client,
    index: String,
    synonyms: Synonyms,
    task_timeout: Duration,
    ready: OnceCell<()>,
}

fn classify(error: MeiliError) -> BackendError {
    match &error {
        MeiliError::HttpError(_) | MeiliError::Timeout => {
            BackendError::Unavailable(error.to_string())
        }
        MeiliError::MeilisearchCommunication(c) if c.status_code >= 500 => {
            BackendError::Unavailable(error.to_string())
        }
        _ => BackendError::Failed(error.to_string()),
    }
}

/// A filter value in Meilisearch's syntax: double-quoted, escaped.
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
    ]
    .into_iter()
    .flatten()
    .collect();
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

/// Sort expressions for a query's order.
fn sort_expressions(query: &SearchQuery) -> Vec<&'static str> {
    let direction = |reverse: bool, normal: &'static str, reversed: &'static str| {
        if reverse { reversed } else { normal }
    };
    match query.sort {
        Sort::Relevance if query.text.trim().is_empty() => vec!["updated_at:desc", "id:asc"],
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
                sort_facet_values_by: None,
            })
    }

    /// Waits for a task and fails if Meilisearch could not do it.
    async fn finish(&self, task: TaskInfo) -> Result<(), BackendError> {
        let task = task
            .wait_for_completion(
                &self.client,
                Some(Duration::from_millis(20)),
                Some(self.task_timeout),
            )
            .await
            .map_err(classify)?;
        match task {
            Task::Failed { content } => Err(BackendError::Failed(format!(
                "meilisearch task failed: {}",
                content.error
            ))),
            _ => Ok(()),
        }
    }

    /// Creates `uid` unless it exists, and applies the settings.
    async fn prepare_index(&self, uid: &str) -> Result<(), BackendError> {
        let created = self
            .client
            .create_index(uid, Some("id"))
            .await
            .map_err(classify)?
            .wait_for_completion(&self.client, None, Some(self.task_timeout))
            .await
            .map_err(classify)?;
        if let Task::Failed { content } = created
            && content.error.error_code != MeiliCode::IndexAlreadyExists
        {
            return Err(BackendError::Failed(format!(
                "creating index {uid}: {}",
                content.error
            )));
        }
        let task = self
            .client
            .index(uid)
            .set_settings(&self.settings())
            .await
            .map_err(classify)?;
        self.finish(task).await
    }

    /// Makes sure the live index exists with the current settings (once per process).
    async fn ready(&self) -> Result<(), BackendError> {
        self.ready
            .get_or_try_init(|| self.prepare_index(&self.index))
            .await
            .map(|_| ())
    }

    async fn add(&self, uid: &str, documents: &[SearchDocument]) -> Result<(), BackendError> {
        for batch in documents.chunks(BATCH) {
            let task = self
                .client
                .index(uid)
                .add_or_replace(batch, Some("id"))
                .await
                .map_err(classify)?;
            self.finish(task).await?;
        }
        Ok(())
    }

    async fn delete(&self, ids: &[String]) -> Result<(), BackendError> {
        let task = self
            .client
            .index(&self.index)
            .delete_documents(ids)
            .await
            .map_err(classify)?;
        self.finish(task).await
    }

    async fn run_search(&self, query: &SearchQuery) -> Result<SearchPage, BackendError> {
        self.ready().await?;
        let filter = filter_expression(query);
        let sort = sort_expressions(query);
        let facets: Vec<&str> = query.facets.iter().map(|f| facet_attribute(*f)).collect();
        let index = self.client.index(&self.index);
        let mut search = index.search();
        search
            .with_query(&query.text)
            .with_offset(query.offset)
            .with_limit(query.limit)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_show_ranking_score(true);
        if let Some(filter) = &filter {
            search.with_filter(filter);
        }
        if !sort.is_empty() {
            search.with_sort(&sort);
        }
        if !facets.is_empty() {
            search.with_facets(Selectors::Some(&facets));
        }
        let results = search.execute::<SearchDocument>().await.map_err(classify)?;
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

    async fn run_suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, BackendError> {
        if prefix.trim().is_empty() {
            return Ok(Vec::new());
        }
        self.ready().await?;
        let index = self.client.index(&self.index);
        let results = index
            .search()
            .with_query(prefix)
            .with_attributes_to_search_on(&["title"])
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_limit(limit * 2)
            .execute::<SearchDocument>()
            .await
            .map_err(classify)?;
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
        // Consecutive changes of one kind go in one task; order between kinds is kept.
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for change in changes {
            match change {
                Change::Upsert(document) => {
                    if !deletes.is_empty() {
                        self.delete(&std::mem::take(&mut deletes)).await?;
                    }
                    upserts.push(*document);
                }
                Change::Delete(id) => {
                    if !upserts.is_empty() {
                        self.add(&self.index, &std::mem::take(&mut upserts)).await?;
                    }
                    deletes.push(id);
                }
            }
        }
        if !deletes.is_empty() {
            self.delete(&deletes).await?;
        }
        if !upserts.is_empty() {
            self.add(&self.index, &upserts).await?;
        }
        Ok(())
    }

    async fn run_replace_all(&self, documents: Vec<SearchDocument>) -> Result<(), BackendError> {
        self.ready().await?;
        let next = format!("{}_next", self.index);
        let task = self.client.delete_index(&next).await.map_err(classify)?;
        // Deleting an index that does not exist fails the task, which is fine here.
        let _ = self.finish(task).await;
        self.prepare_index(&next).await?;
        self.add(&next, &documents).await?;
        let swap = SwapIndexes {
            indexes: (self.index.clone(), next.clone()),
            rename: None,
        };
        let task = self.client.swap_indexes([&swap]).await.map_err(classify)?;
        self.finish(task).await?;
        let task = self.client.delete_index(&next).await.map_err(classify)?;
        self.finish(task).await
    }

    async fn run_count(&self) -> Result<u64, BackendError> {
        self.ready().await?;
        let stats = self
            .client
            .index(&self.index)
            .get_stats()
            .await
            .map_err(classify)?;
        Ok(stats.number_of_documents as u64)
    }
}

impl SearchBackend for MeiliBackend {
    fn name(&self) -> &'static str {
        "meilisearch"
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> BackendFuture<'a, SearchPage> {
        self.run_search(query).boxed()
    }

    fn suggest<'a>(&'a self, prefix: &'a str, limit: usize) -> BackendFuture<'a, Vec<String>> {
        self.run_suggest(prefix, limit).boxed()
    }

    fn apply(&self, changes: Vec<Change>) -> BackendFuture<'_, ()> {
        self.run_apply(changes).boxed()
    }

    fn replace_all(&self, documents: Vec<SearchDocument>) -> BackendFuture<'_, ()> {
        self.run_replace_all(documents).boxed()
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
    fn filters_are_quoted_and_combined() {
        let filters = Filters {
            agencies: vec!["opm".into(), "decd".into()],
            tags: vec!["say \"hi\"".into(), "tax".into()],
            ..Filters::default()
        };
        assert_eq!(
            filter_expression(&query(filters, Sort::Relevance, "")).as_deref(),
            Some(r#"agency_id IN ["opm", "decd"] AND tags = "say \"hi\"" AND tags = "tax""#)
        );
        assert_eq!(
            filter_expression(&query(Filters::default(), Sort::Relevance, "")),
            None
        );
    }

    #[test]
    fn empty_text_sorts_by_recency_and_orders_can_be_reversed() {
        let empty = query(Filters::default(), Sort::Relevance, " ");
        assert_eq!(sort_expressions(&empty), ["updated_at:desc", "id:asc"]);
        let text = query(Filters::default(), Sort::Relevance, "tax");
        assert!(sort_expressions(&text).is_empty());
        let by_name = query(Filters::default(), Sort::Name { reverse: true }, "tax");
        assert_eq!(sort_expressions(&by_name), ["title_sort:desc", "id:asc"]);
    }
}
