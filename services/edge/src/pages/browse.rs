//! Home (`/`) and search (`/browse`): the search service's results with agency, category and tag
//! facets as links, orders and pages as links, the same engine and rules as the Discovery API.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use opendata_limits::{PAGE_FILTERS, SEARCH_TEXT, TEXT_NAME};
use opendata_platform::text::check_text;
use opendata_proto::search::v1::{SearchHit, SearchRequest, SearchResponse, SortOrder};

use super::{
    Layout, PageError, agency_names, long_date, page_number, query_string, render,
    within_page_query,
};
use crate::error::SodaError;
use crate::state::EdgeState;

/// Results per page.
const PER_PAGE: u32 = 20;
/// Pages one can go to (the search window is 10,000 results).
const MAX_PAGE: u32 = 500;
/// Filters (agencies, categories and tags together) one search page takes.
const MAX_FILTERS: usize = PAGE_FILTERS.get();

/// One dataset in a list.
pub struct HitView {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) agency: String,
    pub(super) category: String,
    pub(super) updated: String,
    pub(super) summary: String,
}

impl HitView {
    pub(super) fn of(hit: SearchHit) -> HitView {
        HitView {
            summary: shortened(&hit.description, 240),
            updated: long_date(hit.updated_at.as_ref()),
            id: hit.id,
            title: hit.title,
            agency: hit.agency_name,
            category: hit.category,
        }
    }
}

/// The first `limit` characters of `text`, cut at a word, with an ellipsis when cut.
fn shortened(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let cut: String = text.chars().take(limit).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

/// A facet value on the home page.
pub struct Count {
    value: String,
    label: String,
    count: u64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    recent: Vec<HitView>,
    categories: Vec<Count>,
    agencies: Vec<Count>,
}

/// The values of facet `name` in `response`, labelled with the hits' agency names for agencies.
fn counts(response: &SearchResponse, name: &str) -> Vec<Count> {
    response
        .facets
        .iter()
        .filter(|facet| facet.name == name)
        .flat_map(|facet| &facet.values)
        .map(|value| Count {
            label: value.value.clone(),
            value: value.value.clone(),
            count: value.count,
        })
        .collect()
}

pub(super) async fn search(
    state: &EdgeState,
    request: SearchRequest,
) -> Result<SearchResponse, PageError> {
    state
        .search()
        .search(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| PageError::from_api(state, SodaError::from(status)))
}

/// `GET /`: a search box, the recently updated datasets, categories and agencies.
pub async fn home(State(state): State<EdgeState>) -> Result<Response, PageError> {
    let found = search(
        &state,
        SearchRequest {
            types: vec!["dataset".to_owned()],
            sort: SortOrder::Updated as i32,
            limit: 8,
            facets: vec!["category".to_owned(), "agency".to_owned()],
            ..Default::default()
        },
    )
    .await?;
    let agency_names = agency_names(&state).await;
    let mut agencies = counts(&found, "agency");
    for agency in &mut agencies {
        if let Some(name) = agency_names.iter().find(|(id, _)| *id == agency.value) {
            agency.label = name.1.clone();
        }
    }
    let page = Home {
        layout: Layout::new(&state, ""),
        categories: counts(&found, "category"),
        agencies,
        recent: found.hits.into_iter().map(HitView::of).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// A search as `/browse` parameters say it.
#[derive(Default)]
struct Browse {
    text: String,
    agencies: Vec<String>,
    categories: Vec<String>,
    tags: Vec<String>,
    sort: Sort,
    page: u32,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum Sort {
    #[default]
    Relevance,
    Updated,
    Name,
}

impl Sort {
    const ALL: [Sort; 3] = [Sort::Relevance, Sort::Updated, Sort::Name];

    fn parameter(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Updated => "updated",
            Sort::Name => "name",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Sort::Relevance => "best match",
            Sort::Updated => "recently updated",
            Sort::Name => "name",
        }
    }

    fn order(self) -> SortOrder {
        match self {
            Sort::Relevance => SortOrder::Relevance,
            Sort::Updated => SortOrder::Updated,
            Sort::Name => SortOrder::Name,
        }
    }
}

impl Browse {
    /// Reads the parameters, refusing what is past the limits or unknown, naming it.
    fn parse(query: Option<&str>) -> Result<Browse, SodaError> {
        let query = within_page_query(query)?;
        let mut browse = Browse {
            page: 1,
            ..Browse::default()
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_owned();
            let limit = if name == "q" { SEARCH_TEXT } else { TEXT_NAME };
            check_text(&name, &value, limit).map_err(SodaError::over_limit(&name))?;
            match name.as_ref() {
                "q" => browse.text = value,
                "agency" => browse.agencies.push(value),
                "category" => browse.categories.push(value),
                "tags" => browse.tags.push(value),
                "sort" => {
                    browse.sort = Sort::ALL
                        .into_iter()
                        .find(|sort| sort.parameter() == value)
                        .ok_or_else(|| {
                            SodaError::bad_parameter("sort", "sort is relevance, updated or name")
                        })?;
                }
                "page" => browse.page = page_number("page", &value, MAX_PAGE)?,
                other => {
                    return Err(SodaError::bad_parameter(
                        other,
                        format!(
                            "unknown parameter {}; searches take q, agency, category, tags, sort and page",
                            opendata_limits::excerpt(other)
                        ),
                    ));
                }
            }
        }
        browse.agencies.retain(|v| !v.is_empty());
        browse.categories.retain(|v| !v.is_empty());
        browse.tags.retain(|v| !v.is_empty());
        if browse.filters() > MAX_FILTERS {
            return Err(SodaError::bad_parameter(
                "agency",
                format!(
                    "at most {MAX_FILTERS} filters (agencies, categories and tags) at once (limit {})",
                    PAGE_FILTERS.name
                ),
            ));
        }
        Ok(browse)
    }

    /// Filters in use.
    fn filters(&self) -> usize {
        self.agencies.len() + self.categories.len() + self.tags.len()
    }

    /// This search's parameters, with `change` applied, as a `/browse` link (page 1 unless set).
    fn link(&self, change: impl FnOnce(&mut Browse)) -> String {
        let mut next = Browse {
            text: self.text.clone(),
            agencies: self.agencies.clone(),
            categories: self.categories.clone(),
            tags: self.tags.clone(),
            sort: self.sort,
            page: 1,
        };
        change(&mut next);
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if !next.text.is_empty() {
            pairs.push(("q", &next.text));
        }
        pairs.extend(next.agencies.iter().map(|v| ("agency", v.as_str())));
        pairs.extend(next.categories.iter().map(|v| ("category", v.as_str())));
        pairs.extend(next.tags.iter().map(|v| ("tags", v.as_str())));
        if next.sort != Sort::Relevance {
            pairs.push(("sort", next.sort.parameter()));
        }
        let page = next.page.to_string();
        if next.page > 1 {
            pairs.push(("page", &page));
        }
        format!("/browse?{}", query_string(pairs))
    }
}

/// A filter in use, with the link that removes it.
pub struct Chip {
    label: String,
    remove: String,
}

/// An order to choose.
pub struct SortChoice {
    label: &'static str,
    href: String,
    current: bool,
}

/// A facet's values as links adding them to the search.
pub struct FacetView {
    title: &'static str,
    values: Vec<FacetLink>,
}

/// One facet value.
pub struct FacetLink {
    label: String,
    count: u64,
    href: String,
}

#[derive(Template)]
#[template(path = "browse.html")]
struct Results {
    layout: Layout,
    total: u64,
    hits: Vec<HitView>,
    chosen: Vec<Chip>,
    sorts: Vec<SortChoice>,
    facets: Vec<FacetView>,
    page: u32,
    pages: u32,
    previous: Option<String>,
    next: Option<String>,
}

/// `GET /browse?q=&agency=&category=&tags=&sort=&page=`: search results.
pub async fn browse(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let browse =
        Browse::parse(query.as_deref()).map_err(|error| PageError::from_api(&state, error))?;
    let found = search(
        &state,
        SearchRequest {
            query: browse.text.clone(),
            agencies: browse.agencies.clone(),
            categories: browse.categories.clone(),
            tags: browse.tags.clone(),
            types: vec!["dataset".to_owned()],
            sort: browse.sort.order() as i32,
            offset: (browse.page - 1) * PER_PAGE,
            limit: PER_PAGE,
            facets: vec![
                "agency".to_owned(),
                "category".to_owned(),
                "tags".to_owned(),
            ],
            ..Default::default()
        },
    )
    .await?;
    let agency_names = agency_names(&state).await;
    let agency_label = |id: &str| {
        agency_names
            .iter()
            .find(|(known, _)| known == id)
            .map_or_else(|| id.to_owned(), |(_, name)| name.clone())
    };
    let mut chosen = Vec::new();
    for (index, agency) in browse.agencies.iter().enumerate() {
        chosen.push(Chip {
            label: agency_label(agency),
            remove: browse.link(|b| {
                b.agencies.remove(index);
            }),
        });
    }
    for (index, category) in browse.categories.iter().enumerate() {
        chosen.push(Chip {
            label: category.clone(),
            remove: browse.link(|b| {
                b.categories.remove(index);
            }),
        });
    }
    for (index, tag) in browse.tags.iter().enumerate() {
        chosen.push(Chip {
            label: format!("tag: {tag}"),
            remove: browse.link(|b| {
                b.tags.remove(index);
            }),
        });
    }
    // At the cap, a facet link would lead to a refusal: none are offered.
    let facet_values = if browse.filters() < MAX_FILTERS {
        12
    } else {
        0
    };
    let facet = |name: &str, title: &'static str| FacetView {
        title,
        values: counts(&found, name)
            .into_iter()
            .take(facet_values)
            .map(|count| FacetLink {
                label: match name {
                    "agency" => agency_label(&count.value),
                    _ => count.label.clone(),
                },
                count: count.count,
                href: browse.link(|b| match name {
                    "agency" => b.agencies.push(count.value.clone()),
                    "category" => b.categories.push(count.value.clone()),
                    _ => b.tags.push(count.value.clone()),
                }),
            })
            .collect(),
    };
    let facets = vec![
        facet("agency", "Agency"),
        facet("category", "Category"),
        facet("tags", "Tags"),
    ];
    let pages = u32::try_from(found.total.div_ceil(u64::from(PER_PAGE)))
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let page = Results {
        total: found.total,
        hits: found.hits.into_iter().map(HitView::of).collect(),
        chosen,
        sorts: Sort::ALL
            .into_iter()
            .map(|sort| SortChoice {
                label: sort.label(),
                href: browse.link(|b| b.sort = sort),
                current: sort == browse.sort,
            })
            .collect(),
        facets,
        page: browse.page,
        pages,
        previous: (browse.page > 1).then(|| browse.link(|b| b.page = browse.page - 1)),
        next: (browse.page < pages).then(|| browse.link(|b| b.page = browse.page + 1)),
        layout: Layout::new(&state, &browse.text),
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip_through_links() {
        let browse =
            Browse::parse(Some("q=real+estate&agency=opm&tags=a%26b&sort=name&page=2")).unwrap();
        assert_eq!(browse.text, "real estate");
        assert_eq!(browse.tags, ["a&b"]);
        assert_eq!(
            browse.link(|b| b.page = 3),
            "/browse?q=real+estate&agency=opm&tags=a%26b&sort=name&page=3"
        );
        assert_eq!(
            browse.link(|b| b.agencies.clear()),
            "/browse?q=real+estate&tags=a%26b&sort=name"
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (query, parameter) in [
            ("page=0", "page"),
            ("page=501", "page"),
            ("sort=random", "sort"),
            ("color=red", "color"),
        ] {
            let error = Browse::parse(Some(query)).err().expect(query);
            assert!(
                error.0.message.contains(parameter),
                "{query}: {}",
                error.0.message
            );
        }
    }

    #[test]
    fn summaries_are_cut_at_a_word() {
        assert_eq!(shortened("short", 10), "short");
        assert_eq!(shortened("one two three four", 10), "one two…");
    }
}
