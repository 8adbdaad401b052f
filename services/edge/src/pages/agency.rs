//! `/agency/{id}`: one agency's open data: its published datasets (the most recently updated,
//! and a link to all of them), its inventory by workflow state with the withheld ones counted by
//! Executive Order 39 ground and listed with their ground, explanation and since when, and which
//! of its datasets are late.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use opendata_proto::search::v1::{SearchRequest, SortOrder};

use super::browse::{HitView, search};
use super::freshness::{FreshRow, Tally};
use super::labels::{ground_label, state_label};
use super::withheld::{WithheldList, inventory_summary};
use super::{Layout, PageError, agency_names, render};
use crate::state::EdgeState;

/// Datasets the page lists; the rest are a search away.
const RECENT: u32 = 10;

/// A count with what it counts.
pub struct Counted {
    label: &'static str,
    count: i64,
}

#[derive(Template)]
#[template(path = "agency.html")]
struct AgencyPage {
    layout: Layout,
    id: String,
    name: String,
    published: u64,
    recent: Vec<HitView>,
    states: Vec<Counted>,
    grounds: Vec<Counted>,
    withheld: WithheldList,
    tally: Tally,
    late: Vec<FreshRow>,
    /// Whether the freshness figures could not be read.
    freshness_unavailable: bool,
}

/// Whether `id` has the form of an agency id (`[a-z][a-z0-9-]{1,31}`), so it is safe in a SoQL
/// string literal.
fn is_agency_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `GET /agency/{id}`.
pub async fn page(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let names = agency_names(&state).await;
    let name = names
        .iter()
        .find(|(agency, _)| *agency == id)
        .map(|(_, name)| name.clone());
    // Without governance's names only the form of the id is checked.
    let Some(name) = name.or_else(|| (names.is_empty() && is_agency_id(&id)).then(|| id.clone()))
    else {
        return Err(PageError::not_found(&state, "agency"));
    };
    let found = search(
        &state,
        SearchRequest {
            agencies: vec![id.clone()],
            types: vec!["dataset".to_owned()],
            sort: SortOrder::Updated as i32,
            limit: RECENT,
            ..Default::default()
        },
    )
    .await?;
    let summary = inventory_summary(&state, &id).await?;
    // `id` is a known agency id: safe inside a SoQL string literal.
    let freshness = super::freshness::rows(&state, Some(&format!("agency='{id}'"))).await;
    let mut tally = Tally::default();
    freshness.iter().flatten().for_each(|row| tally.add(row));
    let page = AgencyPage {
        layout: Layout::new(&state, ""),
        published: found.total,
        recent: found.hits.into_iter().map(HitView::of).collect(),
        states: summary
            .states
            .iter()
            .map(|count| Counted {
                label: state_label(count.state()),
                count: count.count,
            })
            .collect(),
        grounds: summary
            .grounds
            .iter()
            .map(|count| Counted {
                label: ground_label(count.ground()),
                count: count.count,
            })
            .collect(),
        withheld: WithheldList::of(&summary, &names),
        tally,
        freshness_unavailable: freshness.is_none(),
        late: freshness
            .into_iter()
            .flatten()
            .filter(FreshRow::late)
            .collect(),
        name,
        id,
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::is_agency_id;

    #[test]
    fn agency_ids_have_one_form() {
        assert!(is_agency_id("opm"));
        assert!(is_agency_id("dept-7"));
        for id in ["o", "Opm", "7opm", "op'm", "op m", &"a".repeat(33)] {
            assert!(!is_agency_id(id), "{id}");
        }
    }
}
