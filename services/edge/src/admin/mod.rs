//! `/api/admin/`: the governance actions of ADOs and the CDO over HTTP, with a bearer key
//! (`Authorization: Bearer <key>`), answered in Socrata's error shape. The authorization matrix is
//! governance's; this is a thin adapter.
//!
//! - `POST /api/admin/datasets/{id}/nominate` `{"justification", "accrualPeriodicity"}`
//! - `POST /api/admin/datasets/{id}/start-review`, `/approve`, `/publish`, `/reopen` `{"reason"}`
//! - `POST /api/admin/datasets/{id}/withhold` `{"ground", "explanation", "accessLevel"}`
//! - `POST /api/admin/datasets/{id}/retire` `{"reason", "successor"}`
//! - `GET /api/admin/datasets/{id}` — the inventory record with its history and freshness
//! - `GET /api/admin/inventory?agency=&state=` — inventory records
//! - `GET /api/admin/inventory/{agency}.csv` and `.json` — the annual inventory and access plan
//! - `GET /api/admin/stale?agency=` — published datasets past due + grace
//! - `GET /api/admin/audit?subject=&limit=&before=` and `/api/admin/audit.csv` — the audit log

mod record;
mod step;

pub use step::{ACTIONS, Step};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use opendata_limits::{ADMIN_BODY_BYTES, ADMIN_BODY_SECONDS, Limit, excerpt};
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::timestamp::from_proto;
use opendata_proto::governance::v1 as pb;
use serde_json::{Value, json};
use tower_http::timeout::TimeoutError;

use crate::error::SodaError;
use crate::json::SodaJson;
use crate::state::EdgeState;
use record::{FreshnessJson, RecordJson};
pub use record::{PlanFormat, plan_download};

/// The fields of a step's JSON body: an object of strings (or nothing at all).
fn body_fields(body: &Bytes) -> Result<Vec<(String, String)>, SodaError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let object: serde_json::Map<String, Value> = serde_json::from_slice(body).map_err(|error| {
        SodaError::bad_parameter(
            "body",
            format!("the request body is not a JSON object: {error}"),
        )
    })?;
    object
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name, text)),
            Value::Null => Ok((name, String::new())),
            _ => Err(SodaError::bad_parameter(
                &name,
                format!("{} must be a string", excerpt(&name)),
            )),
        })
        .collect()
}

fn record_response(record: &pb::InventoryRecord) -> SodaJson<RecordJson> {
    SodaJson(RecordJson::from(record))
}

/// A staff request's body, or a `413`/`408`/`400` naming the limit it went past (`bytes`, the
/// route's body limit, or [`ADMIN_BODY_SECONDS`]).
pub(crate) fn read_body(
    body: Result<Bytes, BytesRejection>,
    bytes: Limit,
) -> Result<Bytes, SodaError> {
    let rejection = match body {
        Ok(bytes) => return Ok(bytes),
        Err(rejection) => rejection,
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&rejection);
    while let Some(error) = source {
        if error.downcast_ref::<TimeoutError>().is_some() {
            return Err(SodaError::body_too_slow(ADMIN_BODY_SECONDS));
        }
        source = error.source();
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Err(SodaError::body_too_large(bytes));
    }
    Err(SodaError(ApiError::new(
        ErrorCode::InvalidArgument,
        "the request body could not be read",
    )))
}

/// `POST /api/admin/datasets/{id}/{step}`.
pub async fn step(
    State(state): State<EdgeState>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<SodaJson<RecordJson>, SodaError> {
    // Without a key nothing else is answered.
    let mut governance = state.governance(&headers)?;
    let body = read_body(body, ADMIN_BODY_BYTES)?;
    let step = Step::parse(&id, &action, &body_fields(&body)?)?.ok_or_else(|| {
        SodaError::no_route(&format!("/api/admin/datasets/{id}/{}", excerpt(&action)))
    })?;
    let record = step.apply(&mut governance).await?;
    Ok(record_response(&record))
}

/// `GET /api/admin/datasets/{id}`.
pub async fn record(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<SodaJson<RecordJson>, SodaError> {
    let record = state
        .governance(&headers)?
        .review
        .get_inventory_record(pb::GetInventoryRecordRequest { dataset_id: id })
        .await?
        .into_inner();
    Ok(record_response(&record))
}

/// Reads `agency` and repeated `state` parameters.
fn inventory_query(query: Option<&str>) -> Result<pb::ListInventoryRequest, SodaError> {
    let mut request = pb::ListInventoryRequest::default();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "agency" => request.agency_id = value.into_owned(),
            "state" => {
                let state = pb::ReviewState::from_str_name(&format!(
                    "REVIEW_STATE_{}",
                    value.to_ascii_uppercase()
                ))
                .filter(|s| *s != pb::ReviewState::Unspecified)
                .ok_or_else(|| {
                    SodaError::bad_parameter(
                        "state",
                        format!("`{value}` is not a state: use inventoried, nominated, under_review, approved, published, withheld or retired"),
                    )
                })?;
                request.states.push(state as i32);
            }
            other => {
                return Err(SodaError::bad_parameter(
                    other,
                    format!(
                        "unknown parameter {}; the inventory takes agency and state",
                        excerpt(other)
                    ),
                ));
            }
        }
    }
    Ok(request)
}

/// `GET /api/admin/inventory`.
pub async fn inventory(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<SodaJson<Vec<RecordJson>>, SodaError> {
    let request = inventory_query(query.as_deref())?;
    let records = state
        .governance(&headers)?
        .review
        .list_inventory(request)
        .await?
        .into_inner()
        .records;
    Ok(SodaJson(records.iter().map(RecordJson::from).collect()))
}

/// `GET /api/admin/inventory/{agency}.csv` or `.json`: the annual inventory and access plan.
pub async fn plan(
    State(state): State<EdgeState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, SodaError> {
    let (agency, format) = file
        .rsplit_once('.')
        .filter(|(agency, _)| !agency.is_empty())
        .and_then(|(agency, extension)| Some((agency, PlanFormat::parse(extension)?)))
        .ok_or_else(|| SodaError::no_route(&format!("/api/admin/inventory/{file}")))?;
    let records = state
        .governance(&headers)?
        .review
        .list_inventory(pb::ListInventoryRequest {
            agency_id: agency.to_owned(),
            states: Vec::new(),
        })
        .await?
        .into_inner()
        .records;
    plan_download(&records, agency, format)
}

/// `GET /api/admin/stale`.
pub async fn stale(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<SodaJson<Vec<Value>>, SodaError> {
    let mut agency = String::new();
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "agency" => agency = value.into_owned(),
            other => {
                return Err(SodaError::bad_parameter(
                    other,
                    format!(
                        "unknown parameter {}; the stale list takes agency",
                        excerpt(other)
                    ),
                ));
            }
        }
    }
    let stale = state
        .governance(&headers)?
        .freshness
        .list_stale(pb::ListStaleRequest { agency_id: agency })
        .await?
        .into_inner()
        .datasets;
    Ok(SodaJson(
        stale
            .iter()
            .map(|f| {
                let mut value = json!(FreshnessJson::from(f));
                value["datasetId"] = json!(f.dataset_id);
                value["agencyId"] = json!(f.agency_id);
                value
            })
            .collect(),
    ))
}

/// `GET /api/admin/audit`.
pub async fn audit(
    State(state): State<EdgeState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<SodaJson<Vec<Value>>, SodaError> {
    let mut request = pb::ListAuditEntriesRequest::default();
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        let number = |parameter: &str| {
            value
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    SodaError::bad_parameter(
                        parameter,
                        format!("{parameter} must be a whole number, got {value:?}"),
                    )
                })
        };
        match name.as_ref() {
            "subject" => request.subject = value.to_string(),
            "limit" => request.page_size = u32::try_from(number("limit")?).unwrap_or(u32::MAX),
            "before" => request.before_id = number("before")?,
            other => {
                return Err(SodaError::bad_parameter(
                    other,
                    format!(
                        "unknown parameter {}; the audit log takes subject, limit and before",
                        excerpt(other)
                    ),
                ));
            }
        }
    }
    let entries = state
        .governance(&headers)?
        .audit
        .list_audit_entries(request)
        .await?
        .into_inner()
        .entries;
    Ok(SodaJson(
        entries
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "at": e.at.as_ref().and_then(from_proto).map(|t| t.to_rfc3339()),
                    "actorId": e.actor_id,
                    "action": e.action,
                    "subject": e.subject,
                    "reason": e.reason,
                    "details": serde_json::from_str::<Value>(&e.details_json).unwrap_or(Value::Null),
                })
            })
            .collect(),
    ))
}

/// `GET /api/admin/audit.csv`: the whole log, streamed.
pub async fn audit_csv(
    State(state): State<EdgeState>,
    headers: HeaderMap,
) -> Result<Response, SodaError> {
    let chunks = state
        .governance(&headers)?
        .audit
        .export_audit_log(pb::ExportAuditLogRequest {})
        .await?
        .into_inner();
    let body = axum::body::Body::from_stream(chunks.map(|chunk| chunk.map(|c| c.data)));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-log.csv\""),
    );
    Ok(response)
}
