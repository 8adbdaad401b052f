//! Row-level diffs between two kept versions of a dataset:
//!
//! - `GET /api/views/{id}/diff?from=N&to=M`: the summary: the row identifier rows are matched by
//!   (none: rows compare whole), the columns compared, added and removed, the counts of added,
//!   removed and changed rows, and links to the rows;
//! - `GET /api/views/{id}/diff.json|.csv?from=N&to=M[&$limit=&$offset=]`: the changes, streamed
//!   in row identifier order: `:change` (`added`, `removed`, `changed`), the compared columns
//!   (the newer values; a removed row's last ones), and for changed rows `:changed_fields` and
//!   each changed field's `:old_<field>`. All of them unless `$limit` says; versions never change,
//!   so pages stay put and the `ETag` answers `304`.
//!
//! As visible as the dataset; a version not kept (or purged) is a 400 naming `from` or `to`.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use opendata_limits::excerpt;
use opendata_proto::catalog::v1::{DiffRequest, RowFormat};
use serde::Serialize;

use crate::error::SodaError;
use crate::params::{parse_count, parse_version};
use crate::rate_limit::AppToken;
use crate::resource::{is_dataset_id, rows_response};
use crate::state::EdgeState;

/// The summary.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    id: String,
    from: i64,
    to: i64,
    /// The column rows are matched by; absent when rows compare whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    row_identifier: Option<String>,
    columns: Vec<String>,
    columns_added: Vec<String>,
    columns_removed: Vec<String>,
    added: u64,
    removed: u64,
    changed: u64,
    /// Where the rows are.
    rows: Links,
}

#[derive(Serialize)]
struct Links {
    json: String,
    csv: String,
}

/// The parameters of a diff request.
fn parse(query: Option<&str>, rows: bool) -> Result<DiffRequest, SodaError> {
    let mut request = DiffRequest::default();
    let (mut from, mut to) = (None, None);
    let mut seen = std::collections::HashSet::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !seen.insert(name.clone()) {
            return Err(SodaError::bad_parameter(
                &name,
                format!("{name} is given more than once; give it once"),
            ));
        }
        match name.as_ref() {
            "from" => from = Some(parse_version("from", &value)?),
            "to" => to = Some(parse_version("to", &value)?),
            "$limit" if rows => request.limit = Some(parse_count("$limit", &value)?),
            "$offset" if rows => request.offset = parse_count("$offset", &value)?,
            "$$app_token" => {}
            other => {
                let known = if rows {
                    "from, to, $limit and $offset"
                } else {
                    "from and to (the rows, at diff.json or diff.csv, take $limit and $offset)"
                };
                return Err(SodaError::bad_parameter(
                    other,
                    format!("unknown parameter {}; a diff takes {known}", excerpt(other)),
                ));
            }
        }
    }
    let missing = |name: &str| {
        SodaError::bad_parameter(
            name,
            format!("{name} is required: the diff compares version from=N with version to=M"),
        )
    };
    request.from_version = from.ok_or_else(|| missing("from"))?;
    request.to_version = to.ok_or_else(|| missing("to"))?;
    Ok(request)
}

/// `GET /api/views/{id}/diff`.
pub async fn summary(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    app_token: Option<Extension<AppToken>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, SodaError> {
    if !is_dataset_id(&id) {
        return Err(SodaError::dataset_not_found(&id));
    }
    let mut request = parse(query.as_deref(), false)?;
    request.dataset_id = id.clone();
    let summary = state
        .catalog(&headers, app_token.as_deref())?
        .summarize_diff(request)
        .await?
        .into_inner();
    let link = |extension: &str| {
        format!(
            "/api/views/{id}/diff.{extension}?from={}&to={}",
            summary.from_version, summary.to_version
        )
    };
    let body = Summary {
        rows: Links {
            json: link("json"),
            csv: link("csv"),
        },
        id: id.clone(),
        from: summary.from_version,
        to: summary.to_version,
        row_identifier: Some(summary.row_identifier).filter(|key| !key.is_empty()),
        columns: summary.columns,
        columns_added: summary.columns_added,
        columns_removed: summary.columns_removed,
        added: summary.added,
        removed: summary.removed,
        changed: summary.changed,
    };
    Ok(Json(serde_json::to_value(body).unwrap_or_default()))
}

/// `GET /api/views/{id}/diff.json`.
pub async fn rows_json(
    state: State<EdgeState>,
    id: Path<String>,
    query: RawQuery,
    app_token: Option<Extension<AppToken>>,
    headers: HeaderMap,
) -> Result<Response, SodaError> {
    rows(state, id, query, app_token, headers, RowFormat::Json).await
}

/// `GET /api/views/{id}/diff.csv`.
pub async fn rows_csv(
    state: State<EdgeState>,
    id: Path<String>,
    query: RawQuery,
    app_token: Option<Extension<AppToken>>,
    headers: HeaderMap,
) -> Result<Response, SodaError> {
    rows(state, id, query, app_token, headers, RowFormat::Csv).await
}

async fn rows(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    app_token: Option<Extension<AppToken>>,
    headers: HeaderMap,
    format: RowFormat,
) -> Result<Response, SodaError> {
    if !is_dataset_id(&id) {
        return Err(SodaError::dataset_not_found(&id));
    }
    let mut request = parse(query.as_deref(), true)?;
    request.dataset_id = id;
    request.format = format as i32;
    request.if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let stream = state
        .catalog(&headers, app_token.as_deref())?
        .diff_rows(request)
        .await?
        .into_inner();
    rows_response(stream, format).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_required_numbers_and_rows_take_a_page() {
        let request = parse(Some("from=2&to=5"), false).unwrap();
        assert_eq!((request.from_version, request.to_version), (2, 5));
        let request = parse(Some("from=2&to=5&$limit=10&$offset=20"), true).unwrap();
        assert_eq!((request.limit, request.offset), (Some(10), 20));
        for (query, rows, parameter) in [
            ("to=5", false, "from"),
            ("from=2", true, "to"),
            ("from=0&to=5", false, "from"),
            ("from=two&to=5", false, "from"),
            ("from=1&to=5&$limit=10", false, "$limit"),
            ("from=1&to=5&$where=x", true, "$where"),
            ("from=1&to=5&$limit=-1", true, "$limit"),
            ("from=1&from=2&to=5", true, "from"),
        ] {
            let error = parse(Some(query), rows).unwrap_err();
            assert_eq!(
                error.0.details.get("parameter").map(String::as_str),
                Some(parameter),
                "{query}: {error:?}"
            );
        }
    }
}
