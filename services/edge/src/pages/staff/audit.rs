//! `/staff/audit`: the audit log, newest first, fifty entries a page (`?before=` the oldest id
//! shown), for the CDO and the advisory panel.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use opendata_proto::governance::v1 as pb;

use super::{Staff, signed_in};
use crate::error::SodaError;
use crate::pages::{Layout, PageError, render};
use crate::state::EdgeState;

/// Entries a page shows.
const PER_PAGE: u32 = 50;

/// One audit entry.
pub struct EntryRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "staff_audit.html")]
struct AuditPage {
    layout: Layout,
    staff: Staff,
    entries: Vec<EntryRow>,
    /// The id to read older entries before, when there may be some.
    older: Option<i64>,
}

/// `GET /staff/audit`.
pub async fn page(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(staff) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/staff").into_response());
    };
    let mut before_id = 0;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        before_id = match name.as_ref() {
            "before" => value
                .parse()
                .ok()
                .filter(|id: &i64| *id > 0)
                .ok_or_else(|| {
                    SodaError::bad_parameter("before", "before is an entry id, a whole number")
                }),
            other => Err(SodaError::bad_parameter(
                other,
                format!(
                    "unknown parameter {}; the audit log takes before",
                    opendata_limits::excerpt(other)
                ),
            )),
        }
        .map_err(|error| PageError::from_api(&state, error))?;
    }
    let entries = state
        .governance_as(&staff.secret)
        .map_err(|error| PageError::from_api(&state, error))?
        .audit
        .list_audit_entries(pb::ListAuditEntriesRequest {
            subject: String::new(),
            page_size: PER_PAGE,
            before_id,
        })
        .await
        .map_err(|status| PageError::from_api(&state, status.into()))?
        .into_inner()
        .entries;
    let older = (entries.len() == PER_PAGE as usize)
        .then(|| entries.last().map(|entry| entry.id))
        .flatten();
    let entries = entries
        .into_iter()
        .map(|entry| EntryRow {
            id: entry.id,
            at: entry
                .at
                .as_ref()
                .and_then(opendata_platform::timestamp::from_proto)
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            actor: entry.actor_id,
            action: entry.action,
            subject: entry.subject,
            reason: entry.reason,
        })
        .collect();
    let page = AuditPage {
        layout: Layout::new(&state, ""),
        staff,
        entries,
        older,
    };
    Ok(render(StatusCode::OK, &page))
}
