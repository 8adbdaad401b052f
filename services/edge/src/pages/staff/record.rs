//! `/staff/d/{id}`: one inventory record with its history and freshness, and the forms of the
//! steps its state allows and the member's role may take; `POST /staff/d/{id}/{action}` takes
//! one (the same [`Step`] as `/api/admin/`) and comes back to the record.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use opendata_proto::governance::v1 as pb;

use super::{Staff, signed_in, staff_form, status_of};
use crate::admin::{ACTIONS, Step};
use crate::error::SodaError;
use crate::pages::labels::{due_date, freshness_label, state_label};
use crate::pages::{Layout, PageError, agency_name, agency_names, long_date, render};
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

/// One recorded transition.
pub struct HistoryRow {
    at: String,
    from: &'static str,
    to: &'static str,
    reason: String,
}

#[derive(Template)]
#[template(path = "staff_record.html")]
struct RecordPage {
    layout: Layout,
    staff: Staff,
    id: String,
    title: String,
    agency: String,
    state: &'static str,
    public: bool,
    access: &'static str,
    rights: String,
    justification: String,
    periodicity: String,
    freshness: &'static str,
    due: String,
    successor: String,
    history: Vec<HistoryRow>,
    /// The steps offered, by action name.
    steps: Vec<&'static str>,
    /// What was just done (`?done=`), when it was.
    done: String,
    problem: String,
}

/// The steps `staff` may take on `record` in its state.
fn steps_for(staff: &Staff, record: &pb::InventoryRecord) -> Vec<&'static str> {
    use pb::ReviewState::*;
    let cdo = staff.is_cdo();
    let officer = cdo || staff.is_officer_of(&record.agency_id);
    let state = record.state();
    [
        ("nominate", officer && state == Inventoried),
        ("start-review", cdo && state == Nominated),
        ("approve", cdo && state == UnderReview),
        ("publish", cdo && state == Approved),
        ("reopen", officer && state == Withheld),
        ("retire", officer && state == Published),
        (
            "withhold",
            officer && !matches!(state, Withheld | Unspecified),
        ),
    ]
    .into_iter()
    .filter_map(|(step, allowed)| allowed.then_some(step))
    .collect()
}

/// The record page of `id`, with a problem to show (and its status) when a step failed.
async fn record_page(
    state: &EdgeState,
    staff: Staff,
    id: &str,
    done: String,
    problem: Option<SodaError>,
) -> Result<Response, PageError> {
    let record = state
        .governance_as(&staff.secret)
        .map_err(|error| PageError::from_api(state, error))?
        .review
        .get_inventory_record(pb::GetInventoryRecordRequest {
            dataset_id: id.to_owned(),
        })
        .await
        .map_err(|status| PageError::from_api(state, status.into()))?
        .into_inner();
    let agencies = agency_names(state).await;
    let freshness = record.freshness.clone().unwrap_or_default();
    let status = problem.as_ref().map_or(StatusCode::OK, status_of);
    let page = RecordPage {
        layout: Layout::new(state, ""),
        steps: steps_for(&staff, &record),
        staff,
        id: record.dataset_id.clone(),
        title: record.title.clone(),
        agency: agency_name(&agencies, &record.agency_id),
        state: state_label(record.state()),
        public: record.public,
        access: record.access_level().dcat_name(),
        rights: record.rights.clone(),
        justification: record.justification.clone(),
        periodicity: record.accrual_periodicity.clone(),
        freshness: freshness_label(freshness.status()),
        due: due_date(&freshness),
        successor: record.successor_dataset_id.clone(),
        history: record
            .history
            .iter()
            .rev()
            .map(|transition| HistoryRow {
                at: long_date(transition.at.as_ref()),
                from: state_label(transition.from_state()),
                to: state_label(transition.to_state()),
                reason: transition.reason.clone(),
            })
            .collect(),
        done,
        problem: problem
            .map(|error| error.0.bounded().message)
            .unwrap_or_default(),
    };
    Ok(render(status, &page))
}

/// `GET /staff/d/{id}` (`?done={action}` after a step).
pub async fn page(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if !is_dataset_id(&id) {
        return Err(PageError::not_found(&state, "dataset"));
    }
    let Some(staff) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/staff").into_response());
    };
    let done = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "done")
        .and_then(|(_, action)| ACTIONS.iter().find(|known| **known == action).copied())
        .unwrap_or_default()
        .to_owned();
    record_page(&state, staff, &id, done, None).await
}

/// `POST /staff/d/{id}/{action}`: takes the step, then shows the record (again with the problem
/// when governance refused it).
pub async fn act(
    State(state): State<EdgeState>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    if !is_dataset_id(&id) || !ACTIONS.contains(&action.as_str()) {
        return Err(PageError::not_found(&state, "such step"));
    }
    let Some(staff) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/staff").into_response());
    };
    let taken = async {
        let fields = staff_form(&state, &staff, &headers, body)?;
        let step =
            Step::parse(&id, &action, &fields)?.ok_or_else(|| SodaError::no_route(&action))?;
        step.apply(&mut state.governance_as(&staff.secret)?).await
    }
    .await;
    match taken {
        Ok(_) => Ok(Redirect::to(&format!("/staff/d/{id}?done={action}")).into_response()),
        Err(error) => record_page(&state, staff, &id, String::new(), Some(error)).await,
    }
}
