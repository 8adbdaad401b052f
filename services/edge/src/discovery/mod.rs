//! The Discovery API (`/api/catalog/v1`): Socrata's catalog search, answered by the search service.
//!
//! - `GET /api/catalog/v1` with `q`, `categories`, `tags`, `domains`, `search_context`, `ids`,
//!   `only`, `order`, `limit` (default 100), `offset` (`offset + limit` at most 10,000), and the
//!   visibility flags Socrata clients send (`published`, `public`, `audience`, `provenance`, ...);
//! - `GET /api/catalog/v1/autocomplete?q=` with title completions (`q` at most `SEARCH_TEXT`);
//! - `GET /api/catalog/v1/domain_categories` and `/domain_tags` with counts.
//!
//! Results have Socrata's shape: `{results: [{resource, classification, metadata, permalink,
//! link}], resultSetSize, timings, warnings}`. When search is down these routes answer `503` with
//! `Retry-After`; nothing else in the API depends on search.

mod params;
mod response;

use std::time::Instant;

use axum::extract::{RawQuery, State};
use opendata_limits::SEARCH_TEXT;
use opendata_platform::text::check_text;
use opendata_proto::search::v1::{SearchRequest, SearchResponse, SuggestRequest};
use serde_json::{Value, json};

use crate::error::SodaError;
use crate::json::SodaJson;
use crate::state::EdgeState;
use params::{parse_params, parse_u32};
use response::{CatalogPage, CatalogResult, Timings, highlight};

/// This portal's host, as results name their domain.
fn own_domain(state: &EdgeState) -> String {
    let base = state.settings.base_url();
    let host = base.split_once("://").map_or(base, |(_, rest)| rest);
    host.split('/').next().unwrap_or(host).to_owned()
}

fn timings(started: Instant, search_millis: u32) -> Timings {
    Timings {
        service_millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        search_millis: [search_millis, search_millis],
    }
}

async fn run(state: &EdgeState, search: SearchRequest) -> Result<SearchResponse, SodaError> {
    Ok(state.search().search(search).await?.into_inner())
}

/// The search a `/api/catalog/v1` query string asks of the search service (datasets unless it
/// names other types); `None` when it excludes this portal (another domain, unpublished only).
pub fn catalog_search(
    query: Option<&str>,
    domain: &str,
) -> Result<Option<SearchRequest>, SodaError> {
    let params = parse_params(query, domain)?;
    if params.excluded {
        return Ok(None);
    }
    let mut search = params.search;
    if search.types.is_empty() {
        search.types = vec!["dataset".to_owned()];
    }
    Ok(Some(search))
}

/// `GET /api/catalog/v1`.
pub async fn catalog(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<SodaJson<CatalogPage>, SodaError> {
    let started = Instant::now();
    let domain = own_domain(&state);
    let Some(search) = catalog_search(query.as_deref(), &domain)? else {
        return Ok(SodaJson(CatalogPage {
            results: Vec::new(),
            result_set_size: 0,
            timings: timings(started, 0),
            warnings: Vec::new(),
        }));
    };
    let response = run(&state, search).await?;
    let base = state.settings.base_url();
    Ok(SodaJson(CatalogPage {
        results: response
            .hits
            .into_iter()
            .map(|hit| CatalogResult::new(base, &domain, hit))
            .collect(),
        result_set_size: response.total,
        timings: timings(started, response.took_millis),
        warnings: Vec::new(),
    }))
}

/// `GET /api/catalog/v1/autocomplete`.
pub async fn autocomplete(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<SodaJson<Value>, SodaError> {
    let started = Instant::now();
    let mut text = None;
    let mut limit = 0;
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "q" => text = Some(value.into_owned()),
            "limit" => limit = parse_u32("limit", &value)?,
            "$$app_token" => {}
            other => {
                return Err(SodaError::bad_parameter(
                    other,
                    format!("unsupported parameter {other}; autocomplete takes q and limit"),
                ));
            }
        }
    }
    let text = text
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| SodaError::bad_parameter("q", "q is required: the text to complete"))?;
    check_text("q", &text, SEARCH_TEXT).map_err(SodaError::over_limit("q"))?;
    let titles = state
        .search()
        .suggest(SuggestRequest {
            prefix: text.clone(),
            limit,
            types: vec!["dataset".to_owned()],
        })
        .await?
        .into_inner()
        .titles;
    let results: Vec<Value> = titles
        .iter()
        .map(|title| json!({"title": title, "display_title": highlight(title, &text)}))
        .collect();
    Ok(SodaJson(json!({
        "results": results,
        "resultSetSize": results.len(),
        "timings": timings(started, 0),
    })))
}

async fn facet_counts(
    state: &EdgeState,
    facet: &str,
    key: &str,
) -> Result<SodaJson<Value>, SodaError> {
    let started = Instant::now();
    let response = run(
        state,
        SearchRequest {
            types: vec!["dataset".to_owned()],
            limit: 1,
            facets: vec![facet.to_owned()],
            ..Default::default()
        },
    )
    .await?;
    let values: Vec<Value> = response
        .facets
        .into_iter()
        .filter(|f| f.name == facet)
        .flat_map(|f| f.values)
        .map(|v| json!({key: v.value, "count": v.count}))
        .collect();
    Ok(SodaJson(json!({
        "results": values,
        "resultSetSize": values.len(),
        "timings": timings(started, response.took_millis),
    })))
}

/// `GET /api/catalog/v1/domain_categories`: categories with their dataset counts.
pub async fn domain_categories(
    State(state): State<EdgeState>,
) -> Result<SodaJson<Value>, SodaError> {
    facet_counts(&state, "category", "domain_category").await
}

/// `GET /api/catalog/v1/domain_tags`: tags with their dataset counts.
pub async fn domain_tags(State(state): State<EdgeState>) -> Result<SodaJson<Value>, SodaError> {
    facet_counts(&state, "tags", "domain_tag").await
}
