//! Errors as the public sees them: Socrata's shape `{"code", "error": true, "message", "data"}`
//! with the registry's HTTP status and Socrata code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_platform::error::{ApiError, ErrorCode};
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

    /// A `404` for an unknown or invisible dataset.
    pub fn dataset_not_found(id: &str) -> Self {
        SodaError(
            ApiError::new(
                ErrorCode::DatasetNotFound,
                format!("dataset {id} does not exist"),
            )
            .with("dataset_id", id),
        )
    }

    /// A `404` for a path that is not a route.
    pub fn no_route(path: &str) -> Self {
        SodaError(ApiError::new(
            ErrorCode::DatasetNotFound,
            format!("no such resource: {path}"),
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
        let error = self.0;
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
        response
    }
}
