//! JSON bodies with Socrata's content type, `application/json;charset=utf-8`.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Socrata's JSON content type.
pub const CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// A JSON response with Socrata's content type.
#[derive(Debug)]
pub struct SodaJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for SodaJson<T> {
    fn into_response(self) -> Response {
        let mut response = axum::Json(self.0).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}
