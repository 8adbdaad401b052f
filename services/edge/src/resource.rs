//! `GET /resource/{id}.json|.csv|.geojson`: rows of a dataset with Socrata's serialization and
//! headers, streamed from the catalog as they are produced; `304 Not Modified` when the client's
//! copy is current; the format from the extension or the `Accept` header.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::timestamp::{from_proto, to_proto};
use opendata_proto::catalog::v1::query_rows_response::Part;
use opendata_proto::catalog::v1::{QueryHeader, QueryRowsResponse, RowFormat};

use crate::error::SodaError;
use crate::params::{negotiate, parse, split_extension};
use crate::rate_limit::AppToken;
use crate::state::EdgeState;

/// `X-SODA2-Fields`/`X-SODA2-Types` are left out past this length, as Socrata does.
const MAX_SODA_HEADER_BYTES: usize = 4096;

/// Whether a path segment is a dataset id (`[a-z0-9]{4}-[a-z0-9]{4}`); anything else is a 404
/// without asking the catalog.
pub fn is_dataset_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 9
        && bytes[4] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(index, b)| index == 4 || b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The handler.
pub async fn resource(
    State(state): State<EdgeState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    app_token: Option<Extension<AppToken>>,
    headers: HeaderMap,
) -> Result<Response, SodaError> {
    let (id, extension) = split_extension(&file)?;
    if !is_dataset_id(id) {
        return Err(SodaError::dataset_not_found(id));
    }
    let format = extension.unwrap_or_else(|| negotiate(header_text(&headers, header::ACCEPT)));
    let mut params = parse(query.as_deref())?;
    params.request.dataset_id = id.to_owned();
    params.request.format = format as i32;
    params.request.if_none_match = header_text(&headers, header::IF_NONE_MATCH)
        .unwrap_or_default()
        .to_owned();
    params.request.if_modified_since = header_text(&headers, header::IF_MODIFIED_SINCE)
        .and_then(|date| DateTime::parse_from_rfc2822(date).ok())
        .map(|date| to_proto(date.with_timezone(&Utc)));
    let stream = state
        .catalog(&headers, app_token.as_deref())?
        .query_rows(params.request)
        .await?
        .into_inner();
    rows_response(stream, format).await
}

/// A `QueryRows`-shaped stream from the catalog as a response: `304` when its header says the
/// client's copy is current, else the body streamed with the format's content type, the SODA
/// field headers and the validators.
pub async fn rows_response(
    mut stream: tonic::Streaming<QueryRowsResponse>,
    format: RowFormat,
) -> Result<Response, SodaError> {
    let header = match stream.message().await?.and_then(|message| message.part) {
        Some(Part::Header(header)) => header,
        _ => {
            return Err(SodaError(ApiError::new(
                ErrorCode::Internal,
                "the catalog answered without a header",
            )));
        }
    };
    if header.not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        validators(response.headers_mut(), &header);
        return Ok(response);
    }

    let body = stream.filter_map(|message| async move {
        match message {
            Ok(message) => match message.part {
                Some(Part::Chunk(bytes)) => Some(Ok(bytes)),
                _ => None,
            },
            Err(status) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "row stream failed midway");
                Some(Err(status))
            }
        }
    });
    let mut response = Body::from_stream(body).into_response();
    let response_headers = response.headers_mut();
    let content_type = match format {
        RowFormat::Csv => "text/csv; charset=utf-8",
        RowFormat::Geojson => "application/vnd.geo+json;charset=utf-8",
        _ => crate::json::CONTENT_TYPE,
    };
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    soda_headers(response_headers, &header);
    validators(response_headers, &header);
    Ok(response)
}

fn soda_headers(headers: &mut HeaderMap, query_header: &QueryHeader) {
    let fields: Vec<&str> = query_header
        .columns
        .iter()
        .map(|c| c.field_name.as_str())
        .collect();
    let types: Vec<&str> = query_header
        .columns
        .iter()
        .map(|c| c.soql_type.as_str())
        .collect();
    for (name, values) in [("x-soda2-fields", &fields), ("x-soda2-types", &types)] {
        let json = serde_json::to_string(values).unwrap_or_default();
        if json.len() <= MAX_SODA_HEADER_BYTES
            && let Ok(value) = HeaderValue::from_str(&json)
        {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// `ETag` and `Last-Modified`.
fn validators(headers: &mut HeaderMap, query_header: &QueryHeader) {
    if let Some(modified) = query_header.data_updated_at.as_ref().and_then(from_proto)
        && let Ok(value) = HeaderValue::from_str(&http_date(modified))
    {
        headers.insert(header::LAST_MODIFIED, value);
    }
    if let Ok(value) = HeaderValue::from_str(&query_header.etag) {
        headers.insert(header::ETAG, value);
    }
}

/// An HTTP date (`Mon, 16 Sep 2019 23:13:03 GMT`).
pub fn http_date(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
