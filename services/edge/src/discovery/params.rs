//! The Discovery API's query parameters, read into a search request. `q` is held to
//! `SEARCH_TEXT`; `categories`, `tags`, `ids` and `only` to `FILTER_VALUES` values of at most
//! `TEXT_NAME` characters each; none may hold a NUL character. The search service holds its
//! request to the same limits; checking here refuses before calling it.

use opendata_limits::{SEARCH_TEXT, TEXT_NAME, excerpt};
use opendata_platform::text::check_list;
use opendata_platform::timestamp::to_proto;
use opendata_proto::search::v1::{SearchRequest, SortOrder};

use crate::error::SodaError;
use crate::limited::{add_values, within};
use crate::since::parse_since;

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
pub const NO_TYPE: &str = "none";

/// A catalog search as the request asks for it.
#[derive(Debug, Default)]
pub struct CatalogParams {
    pub search: SearchRequest,
    /// Whether the request excludes this portal entirely (another domain, unpublished only...).
    pub excluded: bool,
}

/// A count parameter.
pub fn parse_u32(parameter: &str, value: &str) -> Result<u32, SodaError> {
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

/// Reads the query string of `/api/catalog/v1`; `domain` is this portal's host.
pub fn parse_params(query: Option<&str>, domain: &str) -> Result<CatalogParams, SodaError> {
    let mut params = CatalogParams::default();
    let search = &mut params.search;
    let mut limit = DEFAULT_LIMIT;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.as_ref();
        let parameter = name.as_ref();
        match parameter {
            "q" => search.query = within(parameter, value.to_owned(), SEARCH_TEXT)?,
            "categories" | "categories[]" => {
                add_values(parameter, &mut search.categories, [value.trim().to_owned()])?
            }
            "tags" | "tags[]" => {
                add_values(parameter, &mut search.tags, [value.trim().to_owned()])?
            }
            "ids" | "ids[]" => add_values(parameter, &mut search.ids, list(value))?,
            "domains" | "search_context" => {
                let domains: Vec<String> = list(value).collect();
                if !domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
                    params.excluded = true;
                }
            }
            "only" => {
                let kinds: Vec<String> = list(value).collect();
                check_list(parameter, &kinds, TEXT_NAME)
                    .map_err(SodaError::over_limit(parameter))?;
                let mut wants_datasets = false;
                for kind in kinds {
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
            "modified_since" => {
                search.updated_since = Some(to_proto(parse_since(parameter, value)?));
            }
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
                        "unsupported parameter {}; the catalog takes q, categories, tags, domains, search_context, ids, only, order, limit, offset, modified_since, published, public, audience, provenance, approval_status, visibility, explicitly_hidden and derived",
                        excerpt(other)
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

#[cfg(test)]
mod tests {
    use opendata_limits::FILTER_VALUES;

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
    fn long_and_nul_values_are_refused_naming_the_parameter_and_the_limit() {
        let long_q = format!("q={}", "a".repeat(SEARCH_TEXT.get() + 1));
        let long_category = format!("categories[]={}", "c".repeat(TEXT_NAME.get() + 1));
        let many_tags = vec!["tags[]=x"; FILTER_VALUES.get() + 1].join("&");
        let many_ids = format!(
            "ids={}",
            vec!["abcd-1234"; FILTER_VALUES.get() + 1].join(",")
        );
        for (query, parameter, limit) in [
            (long_q.as_str(), "q", Some(SEARCH_TEXT.name)),
            (long_category.as_str(), "categories[]", Some(TEXT_NAME.name)),
            (many_tags.as_str(), "tags[]", Some(FILTER_VALUES.name)),
            (many_ids.as_str(), "ids", Some(FILTER_VALUES.name)),
            ("q=real%00estate", "q", None),
            ("tags=a%00", "tags", None),
            ("only=data%00set", "only", None),
        ] {
            let error = parse_params(Some(query), "data.ct.gov").unwrap_err();
            let details = &error.0.details;
            assert_eq!(
                details.get("parameter").map(String::as_str),
                Some(parameter),
                "{query}"
            );
            assert_eq!(details.get("limit").map(String::as_str), limit, "{query}");
        }
        let at_the_limits = format!(
            "q={}&{}",
            "a".repeat(SEARCH_TEXT.get()),
            vec!["tags=x"; FILTER_VALUES.get()].join("&")
        );
        assert!(parse_params(Some(&at_the_limits), "data.ct.gov").is_ok());
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
}
