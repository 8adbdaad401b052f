//! `GET /api/views/{id}/changes`: a dataset's change feed as Server-Sent Events. Each version
//! made current is one `version` event whose id is the version number, so a client that
//! reconnects with `Last-Event-ID` (or `?after=N`) resumes after the last one it saw; a new
//! client gets every version in the history first. The payload carries the version, how it was
//! made, its rows and how many it created, changed and deleted, when, and the link to its diff
//! from the version before, never the rows themselves. Comments keep the connection alive every 15 s; the feed ends after an hour, and
//! counts as one of its caller's requests in flight for as long as it lasts. As visible as the
//! dataset: one that stops being public ends its feed with an `error` event (`{code, message}`).

use std::convert::Infallible;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt as _};
use opendata_platform::timestamp::iso_millis;
use opendata_proto::catalog::v1::{DatasetVersion, WatchVersionsRequest};
use serde_json::json;

use crate::error::SodaError;
use crate::params::parse_version;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

/// The handler.
pub async fn changes(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, SodaError> {
    if !is_dataset_id(&id) {
        return Err(SodaError::dataset_not_found(&id));
    }
    let after = resume_after(&headers, query.as_deref())?;
    let watched = state
        .catalog(&headers, None)?
        .watch_versions(WatchVersionsRequest {
            dataset_id: id.clone(),
            after_version: after,
        })
        .await?
        .into_inner();
    let events = watched.map(move |version| {
        Ok(match version {
            Ok(version) => version_event(&id, version),
            Err(status) => {
                let error = opendata_platform::error::ApiError::from_status(&status);
                Event::default().event("error").data(
                    json!({"code": error.code.as_str(), "message": error.message}).to_string(),
                )
            }
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Where a feed starts: after `Last-Event-ID`, else after `?after=N`, else from the beginning.
fn resume_after(headers: &HeaderMap, query: Option<&str>) -> Result<i64, SodaError> {
    let mut after = 0;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "after" => after = parse_version("after", &value)?,
            "$$app_token" => {}
            other => {
                return Err(SodaError::bad_parameter(
                    other,
                    format!(
                        "unknown parameter {}; a change feed takes after (or the Last-Event-ID \
                         header)",
                        opendata_limits::excerpt(other)
                    ),
                ));
            }
        }
    }
    match headers.get("last-event-id") {
        Some(last) => parse_version("Last-Event-ID", last.to_str().unwrap_or_default()),
        None => Ok(after),
    }
}

/// One version as an event.
fn version_event(id: &str, version: DatasetVersion) -> Event {
    let payload = json!({
        "dataset": id,
        "version": version.version,
        "mode": version.mode,
        "rowCount": version.row_count,
        "rowsCreated": version.rows_created,
        "rowsUpdated": version.rows_updated,
        "rowsDeleted": version.rows_deleted,
        "committedAt": iso_millis(version.committed_at.as_ref()),
        "activatedAt": iso_millis(version.activated_at.as_ref()),
        "diff": (version.version > 1).then(|| {
            format!("/api/views/{id}/diff?from={}&to={}", version.version - 1, version.version)
        }),
    });
    Event::default()
        .id(version.version.to_string())
        .event("version")
        .data(payload.to_string())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn feeds_resume_after_the_last_event_or_the_parameter() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_after(&headers, None).unwrap(), 0);
        assert_eq!(resume_after(&headers, Some("after=4")).unwrap(), 4);
        headers.insert("last-event-id", HeaderValue::from_static("7"));
        assert_eq!(resume_after(&headers, Some("after=4")).unwrap(), 7);
        headers.insert("last-event-id", HeaderValue::from_static("seven"));
        let error = resume_after(&headers, None).unwrap_err();
        assert_eq!(error.0.details["parameter"], "Last-Event-ID");
        let error = resume_after(&HeaderMap::new(), Some("since=3")).unwrap_err();
        assert_eq!(error.0.details["parameter"], "since");
    }
}
