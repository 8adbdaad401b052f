//! Errors as the public sees them: Socrata's shape `{"code", "error": true, "message", "data"}`
//! with the registry's HTTP status and Socrata code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_limits::{Limit, excerpt};
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::text::TextError;
use serde::Serialize;

use crate::json::SodaJson;

/// Seconds a client is told to wait when a service behind the edge is down.
const UNAVAILABLE_RETRY_AFTER_SECS: &str = "5";

/// A public error response.
#[derive(Debug)]
pub struct SodaError(pub ApiError);

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    error: bool,
    message: &'a str,
    data: &'a std::collections::HashMap<String, String>,
}

impl SodaError {
    /// A `400` naming the offending query parameter.
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> Self {
        SodaError(ApiError::new(ErrorCode::InvalidArgument, message).with("parameter", parameter))
    }

    /// A `400` for a query parameter past one of its limits (or holding a NUL character), naming
    /// the parameter and the limit.
    pub fn over_limit(parameter: &str) -> impl FnOnce(TextError) -> SodaError + '_ {
        move |error| SodaError(ApiError::from(error).with("parameter", parameter))
    }

    /// A `413` for a request body larger than `limit` allows.
    pub fn body_too_large(limit: Limit) -> Self {
        SodaError(
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the request body is larger than {} bytes (limit {})",
                    limit.value, limit.name
                ),
            )
            .with("limit", limit.name),
        )
    }

    /// A `408` for a request body that took longer than `limit` to arrive (or to go on).
    pub fn body_too_slow(limit: Limit) -> Self {
        SodaError(
            ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the request body took too long to arrive (limit {}: {} {})",
                    limit.name, limit.value, limit.unit
                ),
            )
            .with("limit", limit.name),
        )
    }

    /// A `404` for an unknown or invisible dataset.
    pub fn dataset_not_found(id: &str) -> Self {
        SodaError(
            ApiError::new(
                ErrorCode::DatasetNotFound,
                format!("dataset {} does not exist", excerpt(id)),
            )
            .with("dataset_id", id),
        )
    }

    /// A `404` for a path that is not a route.
    pub fn no_route(path: &str) -> Self {
        SodaError(ApiError::new(
            ErrorCode::DatasetNotFound,
            format!("no such resource: {}", excerpt(path)),
        ))
    }
}

impl From<tonic::Status> for SodaError {
    fn from(status: tonic::Status) -> Self {
        SodaError(ApiError::from_status(&status))
    }
}

impl From<ApiError> for SodaError {
    fn from(error: ApiError) -> Self {
        SodaError(error)
    }
}

impl IntoResponse for SodaError {
    fn into_response(self) -> Response {
        let error = self.0.bounded();
        let status = StatusCode::from_u16(error.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Body {
            code: error.code.soda_code(),
            error: true,
            message: &error.message,
            data: &error.details,
        };
        let mut response = (status, SodaJson(body)).into_response();
        let headers = response.headers_mut();
        if error.code == ErrorCode::Unavailable {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER_SECS),
            );
        }
        if error.code == ErrorCode::RateLimited && !headers.contains_key(header::RETRY_AFTER) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Puts the errors the HTTP plumbing produces itself (a method a route does not answer, a body too
/// large or too slow, an unreadable query string), which come as plain text, into Socrata's shape
/// with the registry's code, keeping their status and headers (`Allow`, say).
pub async fn in_socratas_shape(response: Response) -> Response {
    let status = response.status();
    // JSON errors are already Socrata's; pages say what went wrong in HTML.
    let keeps_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.starts_with("application/json") || value.starts_with("text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || keeps_body {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, PLAIN_ERROR_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this route does not answer this method; see the Allow header".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "the request body is too large".to_owned(),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            ErrorCode::RequestTimeout,
            "the request took too long to arrive".to_owned(),
        ),
        StatusCode::NOT_FOUND => (ErrorCode::DatasetNotFound, "no such resource".to_owned()),
        status if status.is_client_error() => (
            ErrorCode::InvalidArgument,
            if text.is_empty() {
                "the request is malformed".to_owned()
            } else {
                text
            },
        ),
        _ => (ErrorCode::Internal, "internal error".to_owned()),
    };
    let mut shaped = SodaError(ApiError::new(code, message)).into_response();
    *shaped.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

/// Longest plain-text error body read back (axum's own are a line or two).
const PLAIN_ERROR_BYTES: usize = 4096;
