//! The Discovery API (`/api/catalog/v1`): Socrata's catalog search, answered by the search service.
//!
//! - `GET /api/catalog/v1` with `q`, `categories`, `tags`, `domains`, `search_context`, `ids`,
//!   `only`, `order`, `limit` (default 100), `offset` (`offset + limit` at most 10,000), and the
//!   visibility flags Socrata clients send (`published`, `public`, `audience`, `provenance`, ...);
//! - `GET /api/catalog/v1/autocomplete?q=` with title completions;
//! - `GET /api/catalog/v1/domain_categories` and `/domain_tags` with counts.
//!
//! Results have Socrata's shape: `{results: [{resource, classification, metadata, permalink,
//! link}], resultSetSize, timings, warnings}`. When search is down these routes answer `503` with
//! `Retry-After`; nothing else in the API depends on search.

use std::time::Instant;

use axum::extract::{RawQuery, State};
use chrono::SecondsFormat;
use opendata_platform::timestamp::from_proto;
use opendata_proto::search::v1::{
    SearchHit, SearchRequest, SearchResponse, SortOrder, SuggestRequest,
};
use serde_json::{Value, json};

use crate::error::SodaError;
use crate::json::SodaJson;
use crate::state::EdgeState;

/// Results per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 100;
/// `offset + limit` may not exceed this.
const MAX_WINDOW: u64 = 10_000;
/// Asset types Socrata's `only` accepts; only datasets exist here.
const ASSET_TYPES: &[&str] = &[
    "api",
    "calendar",
    "chart",
    "datalens",
    "dataset",
    "federated_href",
    "file",
    "filter",
    "form",
    "href",
    "link",
    "map",
    "measure",
    "story",
    "system_dataset",
    "visualization",
];
/// The type no document has, so a search for it finds nothing.
const NO_TYPE: &str = "none";

/// A catalog search as the request asks for it.
#[derive(Debug, Default)]
struct CatalogParams {
    search: SearchRequest,
    /// Whether the request excludes this portal entirely (another domain, unpublished only...).
    excluded: bool,
}

fn parse_u32(parameter: &str, value: &str) -> Result<u32, SodaError> {
    value.trim().parse().map_err(|_| {
        SodaError::bad_parameter(
            parameter,
            format!("{parameter} must be a whole number of at least 0, got {value:?}"),
        )
    })
}

fn parse_bool(parameter: &str, value: &str) -> Result<bool, SodaError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SodaError::bad_parameter(
            parameter,
            format!("{parameter} must be true or false, got {value:?}"),
        )),
    }
}

fn list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn parse_order(value: &str) -> Result<(SortOrder, bool), SodaError> {
    let mut words = value.split_whitespace();
    let field = words.next().unwrap_or_default();
    let direction = words.next().map(str::to_ascii_uppercase);
    let bad = || {
        SodaError::bad_parameter(
            "order",
            format!(
                "cannot order by {value:?}; order is relevance, name, createdAt or updatedAt, optionally followed by ASC or DESC"
            ),
        )
    };
    if words.next().is_some() {
        return Err(bad());
    }
    let descending = match direction.as_deref() {
        None => None,
        Some("ASC") => Some(false),
        Some("DESC") => Some(true),
        Some(_) => return Err(bad()),
    };
    // (order, reverse): name reads A to Z by default, dates newest first.
    match field {
        "relevance" if descending != Some(false) => Ok((SortOrder::Relevance, false)),
        "name" => Ok((SortOrder::Name, descending == Some(true))),
        "createdAt" => Ok((SortOrder::Created, descending == Some(false))),
        "updatedAt" => Ok((SortOrder::Updated, descending == Some(false))),
        _ => Err(bad()),
    }
}

fn own_domain(state: &EdgeState) -> String {
    let base = state.settings.base_url();
    let host = base.split_once("://").map_or(base, |(_, rest)| rest);
    host.split('/').next().unwrap_or(host).to_owned()
}

fn parse_params(query: Option<&str>, domain: &str) -> Result<CatalogParams, SodaError> {
    let mut params = CatalogParams::default();
    let search = &mut params.search;
    let mut limit = DEFAULT_LIMIT;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.as_ref();
        match name.as_ref() {
            "q" => search.query = value.to_owned(),
            "categories" | "categories[]" => search.categories.push(value.trim().to_owned()),
            "tags" | "tags[]" => search.tags.push(value.trim().to_owned()),
            "ids" | "ids[]" => search.ids.extend(list(value)),
            "domains" | "search_context" => {
                let domains: Vec<String> = list(value).collect();
                if !domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
                    params.excluded = true;
                }
            }
            "only" => {
                let mut wants_datasets = false;
                for kind in list(value) {
                    let kind = kind.trim_end_matches('s');
                    if !ASSET_TYPES.contains(&kind) {
                        return Err(SodaError::bad_parameter(
                            "only",
                            format!("unknown asset type {kind:?} in only"),
                        ));
                    }
                    wants_datasets |= kind == "dataset";
                }
                search.types = vec![if wants_datasets { "dataset" } else { NO_TYPE }.to_owned()];
            }
            "order" => {
                let (order, reverse) = parse_order(value)?;
                search.sort = order as i32;
                search.reverse = reverse;
            }
            "limit" => limit = parse_u32("limit", value)?,
            "offset" => search.offset = parse_u32("offset", value)?,
            // Every dataset here is published, public, approved, official and visible.
            "published" | "public" => params.excluded |= !parse_bool(name.as_ref(), value)?,
            "explicitly_hidden" | "derived" => params.excluded |= parse_bool(name.as_ref(), value)?,
            "provenance" => params.excluded |= !value.eq_ignore_ascii_case("official"),
            "audience" => params.excluded |= !value.eq_ignore_ascii_case("public"),
            "approval_status" => params.excluded |= !value.eq_ignore_ascii_case("approved"),
            "visibility" => params.excluded |= !value.eq_ignore_ascii_case("open"),
            "$$app_token" => {}
            other => {
                return Err(SodaError::bad_parameter(
                    other,
                    format!(
                        "unsupported parameter {other}; the catalog takes q, categories, tags, domains, search_context, ids, only, order, limit, offset, published, public, audience, provenance, approval_status, visibility, explicitly_hidden and derived"
                    ),
                ));
            }
        }
    }
    if u64::from(search.offset) + u64::from(limit) > MAX_WINDOW {
        return Err(SodaError::bad_parameter(
            "limit",
            format!(
                "offset + limit must not exceed {MAX_WINDOW} (got {} + {limit})",
                search.offset
            ),
        ));
    }
    search.limit = limit;
    Ok(params)
}

fn iso(timestamp: Option<&prost_types::Timestamp>) -> Value {
    timestamp.and_then(from_proto).map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))
    })
}

fn or_null(value: &str) -> Value {
    if value.is_empty() {
        Value::Null
    } else {
        json!(value)
    }
}

/// Socrata's human data type names (`calendar_date` is "Calendar date").
fn human_type(data_type: &str) -> String {
    match data_type {
        "url" => "URL".to_owned(),
        "date" => "Date & Time".to_owned(),
        other => {
            let spaced = other.replace('_', " ");
            let mut chars = spaced.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// A URL path segment from a title: `Real Estate Sales 2001-2022` becomes
/// `Real-Estate-Sales-2001-2022`.
fn slug(text: &str) -> String {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        "dataset".to_owned()
    } else {
        words.join("-")
    }
}

fn result(base: &str, domain: &str, hit: SearchHit) -> Value {
    let category_segment = if hit.category.is_empty() {
        "dataset".to_owned()
    } else {
        slug(&hit.category)
    };
    json!({
        "resource": {
            "name": hit.title,
            "id": hit.id,
            "resource_name": null,
            "parent_fxf": [],
            "description": hit.description,
            "attribution": or_null(&hit.attribution),
            "attribution_link": null,
            "contact_email": or_null(&hit.contact_email),
            "type": "dataset",
            "updatedAt": iso(hit.updated_at.as_ref()),
            "createdAt": iso(hit.created_at.as_ref()),
            "metadata_updated_at": iso(hit.metadata_updated_at.as_ref()),
            "data_updated_at": iso(hit.data_updated_at.as_ref()),
            "columns_name": hit.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
            "columns_field_name": hit.columns.iter().map(|c| &c.field_name).collect::<Vec<_>>(),
            "columns_datatype": hit.columns.iter().map(|c| human_type(&c.data_type)).collect::<Vec<_>>(),
            "columns_description": hit.columns.iter().map(|c| &c.description).collect::<Vec<_>>(),
            "columns_format": hit.columns.iter().map(|_| json!({})).collect::<Vec<_>>(),
            "provenance": "official",
            "lens_view_type": "tabular",
            "lens_display_type": "table",
            "locked": false,
            "blob_mime_type": null,
            "hide_from_data_json": false,
            "publication_date": iso(hit.published_at.as_ref()),
        },
        "classification": {
            "categories": [],
            "tags": [],
            "domain_category": or_null(&hit.category),
            "domain_tags": hit.tags,
            "domain_metadata": [
                {"key": "Agency", "value": hit.agency_name},
            ],
        },
        "metadata": {"domain": domain},
        "permalink": format!("{base}/d/{}", hit.id),
        "link": format!("{base}/{category_segment}/{}/{}", slug(&hit.title), hit.id),
    })
}

fn timings(started: Instant, search_millis: u32) -> Value {
    json!({
        "serviceMillis": started.elapsed().as_millis() as u64,
        "searchMillis": [search_millis, search_millis],
    })
}

fn empty_response(started: Instant) -> SodaJson<Value> {
    SodaJson(json!({
        "results": [],
        "resultSetSize": 0,
        "timings": timings(started, 0),
        "warnings": [],
    }))
}

async fn run(state: &EdgeState, search: SearchRequest) -> Result<SearchResponse, SodaError> {
    Ok(state.search().search(search).await?.into_inner())
}

/// `GET /api/catalog/v1`.
pub async fn catalog(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<SodaJson<Value>, SodaError> {
    let started = Instant::now();
    let domain = own_domain(&state);
    let params = parse_params(query.as_deref(), &domain)?;
    if params.excluded {
        return Ok(empty_response(started));
    }
    let mut search = params.search;
    if search.types.is_empty() {
        search.types = vec!["dataset".to_owned()];
    }
    let response = run(&state, search).await?;
    let base = state.settings.base_url();
    Ok(SodaJson(json!({
        "results": response.hits.into_iter().map(|hit| result(base, &domain, hit)).collect::<Vec<_>>(),
        "resultSetSize": response.total,
        "timings": timings(started, response.took_millis),
        "warnings": [],
    })))
}

/// A title with the words that start with a query word wrapped in Socrata's highlight span,
/// HTML-escaped.
fn highlight(title: &str, query: &str) -> String {
    let wanted: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if wanted.iter().any(|w| lower.starts_with(w.as_str())) {
            out.push_str("<span class=highlight>");
            out.push_str(word);
            out.push_str("</span>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in title.chars() {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
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
    let titles = state
        .search()
        .suggest(SuggestRequest {
            prefix: text.clone(),
            limit,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_a_search() {
        let params = parse_params(
            Some("q=real+estate&categories=Housing&tags=sales&tags=tax&ids=abcd-1234,efgh-5678&order=name+DESC&limit=5&offset=10&only=datasets"),
            "data.ct.gov",
        )
        .unwrap();
        let search = params.search;
        assert!(!params.excluded);
        assert_eq!(search.query, "real estate");
        assert_eq!(search.categories, ["Housing"]);
        assert_eq!(search.tags, ["sales", "tax"]);
        assert_eq!(search.ids, ["abcd-1234", "efgh-5678"]);
        assert_eq!((search.sort(), search.reverse), (SortOrder::Name, true));
        assert_eq!((search.limit, search.offset), (5, 10));
        assert_eq!(search.types, ["dataset"]);
    }

    #[test]
    fn bad_parameters_are_named() {
        for (query, parameter) in [
            ("limit=ten", "limit"),
            ("offset=9990&limit=20", "limit"),
            ("order=colour", "order"),
            ("order=relevance+ASC", "order"),
            ("only=spreadsheet", "only"),
            ("published=maybe", "published"),
            ("frobnicate=1", "frobnicate"),
        ] {
            let error = parse_params(Some(query), "data.ct.gov").unwrap_err();
            assert_eq!(
                error.0.details.get("parameter").map(String::as_str),
                Some(parameter),
                "{query}"
            );
        }
    }

    #[test]
    fn other_domains_and_asset_types_find_nothing_here() {
        assert!(
            parse_params(Some("domains=data.ny.gov"), "data.ct.gov")
                .unwrap()
                .excluded
        );
        assert!(
            !parse_params(Some("domains=data.ny.gov,data.ct.gov"), "data.ct.gov")
                .unwrap()
                .excluded
        );
        assert!(
            parse_params(Some("published=false"), "data.ct.gov")
                .unwrap()
                .excluded
        );
        let charts = parse_params(Some("only=chart"), "data.ct.gov").unwrap();
        assert_eq!(charts.search.types, [NO_TYPE]);
    }

    #[test]
    fn orders_default_to_their_natural_direction() {
        assert_eq!(
            parse_order("updatedAt").unwrap(),
            (SortOrder::Updated, false)
        );
        assert_eq!(
            parse_order("updatedAt ASC").unwrap(),
            (SortOrder::Updated, true)
        );
        assert_eq!(parse_order("name").unwrap(), (SortOrder::Name, false));
        assert_eq!(
            parse_order("relevance").unwrap(),
            (SortOrder::Relevance, false)
        );
    }

    #[test]
    fn titles_are_slugged_highlighted_and_escaped() {
        assert_eq!(
            slug("Real Estate Sales 2001-2022"),
            "Real-Estate-Sales-2001-2022"
        );
        assert_eq!(
            highlight("Real Estate <Sales> & more", "real sal"),
            "<span class=highlight>Real</span> Estate &lt;<span class=highlight>Sales</span>&gt; &amp; more"
        );
        assert_eq!(human_type("calendar_date"), "Calendar date");
        assert_eq!(human_type("number"), "Number");
    }
}
