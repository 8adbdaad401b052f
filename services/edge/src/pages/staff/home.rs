//! `/staff`: the sign-in form, or the signed-in member's desk: the records waiting for a
//! decision, the inventory they may read, the stale datasets; and sign-in and sign-out.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use opendata_proto::governance::v1 as pb;
use opendata_proto::governance::v1::{EndSessionRequest, StartSessionRequest};

use super::{
    Staff, form_fields, readable_inventory, session_cookie_header, signed_in, staff_form, status_of,
};
use crate::error::SodaError;
use crate::pages::labels::{due_date, freshness_label, state_label};
use crate::pages::{Layout, PageError, agency_name, agency_names, render};
use crate::state::EdgeState;

/// One inventory record in a list.
pub struct RecordRow {
    id: String,
    title: String,
    agency: String,
    state: &'static str,
    freshness: &'static str,
    due: String,
}

impl RecordRow {
    fn new(record: &pb::InventoryRecord, agencies: &[(String, String)]) -> RecordRow {
        let freshness = record.freshness.clone().unwrap_or_default();
        RecordRow {
            id: record.dataset_id.clone(),
            title: record.title.clone(),
            agency: agency_name(agencies, &record.agency_id),
            state: state_label(record.state()),
            freshness: freshness_label(freshness.status()),
            due: due_date(&freshness),
        }
    }
}

#[derive(Template)]
#[template(path = "staff_sign_in.html")]
struct SignIn {
    layout: Layout,
    problem: String,
}

/// Inventory records the desk lists; the whole inventory is a download.
const INVENTORY_SHOWN: usize = 500;

#[derive(Template)]
#[template(path = "staff_home.html")]
struct Desk {
    layout: Layout,
    staff: Staff,
    agency: String,
    queue: Vec<RecordRow>,
    inventory: Vec<RecordRow>,
    /// Records in the inventory, of which `inventory` shows the first [`INVENTORY_SHOWN`].
    inventory_total: usize,
    stale: Vec<RecordRow>,
}

fn sign_in_page(state: &EdgeState, status: StatusCode, problem: String) -> Response {
    render(
        status,
        &SignIn {
            layout: Layout::new(state, ""),
            problem,
        },
    )
}

/// `GET /staff`.
pub async fn page(
    State(state): State<EdgeState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(staff) = signed_in(&state, &headers).await? else {
        return Ok(sign_in_page(&state, StatusCode::OK, String::new()));
    };
    let agency_id = staff.inventory_agency();
    let records = readable_inventory(&state, &staff).await?;
    let agencies = agency_names(&state).await;
    let waiting = [
        pb::ReviewState::Nominated,
        pb::ReviewState::UnderReview,
        pb::ReviewState::Approved,
    ];
    let row = |record: &pb::InventoryRecord| RecordRow::new(record, &agencies);
    let queue = records
        .iter()
        .filter(|record| waiting.contains(&record.state()))
        .map(row)
        .collect();
    let stale = records
        .iter()
        .filter(|record| {
            record.freshness.as_ref().map(pb::Freshness::status) == Some(pb::FreshnessStatus::Stale)
        })
        .map(row)
        .collect();
    let inventory_total = records.len();
    let inventory = records.iter().take(INVENTORY_SHOWN).map(row).collect();
    let agency = if agency_id.is_empty() {
        String::new()
    } else {
        agency_name(&agencies, &agency_id)
    };
    let desk = Desk {
        layout: Layout::new(&state, ""),
        staff,
        agency,
        queue,
        inventory,
        inventory_total,
        stale,
    };
    Ok(render(StatusCode::OK, &desk))
}

/// `POST /staff/sign-in` (`key`): starts a session and keeps its secret in the cookie.
pub async fn sign_in(
    State(state): State<EdgeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let refused = |error: SodaError| {
        let status = status_of(&error);
        let problem = if status == StatusCode::UNAUTHORIZED {
            "That key is unknown or revoked.".to_owned()
        } else {
            error.0.bounded().message
        };
        sign_in_page(&state, status, problem)
    };
    let fields = match form_fields(&headers, &state.settings.public_url, body) {
        Ok(fields) => fields,
        Err(error) => return refused(error),
    };
    let key = fields
        .iter()
        .find(|(name, _)| name == "key")
        .map(|(_, key)| key.trim())
        .unwrap_or_default();
    if key.is_empty() {
        return refused(SodaError::bad_parameter("key", "enter your API key"));
    }
    let started = match state.identity_as(key) {
        Ok(mut identity) => identity.start_session(StartSessionRequest {}).await,
        Err(error) => return refused(error),
    };
    let session = match started {
        Ok(session) => session.into_inner(),
        Err(status) => return refused(status.into()),
    };
    // A session this browser held before is over: one browser, one session.
    if let Some(previous) = super::session_cookie(&headers)
        && let Ok(mut identity) = state.identity_as(previous)
        && let Err(status) = identity.end_session(EndSessionRequest {}).await
        && status.code() != tonic::Code::Unauthenticated
    {
        tracing::warn!(error = %status.message(), "a previous staff session could not be ended");
    }
    // Governance says when the session ends; the browser forgets it then (or when it closes).
    let lifetime = session
        .expires_at
        .as_ref()
        .and_then(opendata_platform::timestamp::from_proto)
        .map(|expires| (expires - chrono::Utc::now()).num_seconds().max(1));
    let mut response = Redirect::to("/staff").into_response();
    if let Some(cookie) = session_cookie_header(&state, &headers, &session.secret, lifetime) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /staff/sign-out`: ends the session and forgets the cookie.
pub async fn sign_out(
    State(state): State<EdgeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, PageError> {
    let Some(staff) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/staff").into_response());
    };
    staff_form(&state, &staff, &headers, body)
        .map_err(|error| PageError::from_api(&state, error))?;
    let mut identity = state
        .identity_as(&staff.secret)
        .map_err(|error| PageError::from_api(&state, error))?;
    identity
        .end_session(EndSessionRequest {})
        .await
        .map_err(|status| PageError::from_api(&state, status.into()))?;
    let mut response = Redirect::to("/").into_response();
    if let Some(cookie) = session_cookie_header(&state, &headers, "", Some(0)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
