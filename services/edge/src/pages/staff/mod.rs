//! The staff pages (`/staff`): Agency Data Officers and the Chief Data Officer govern in the
//! browser what they govern with `/api/admin/`, through the same governance calls and the same
//! authorization matrix (the pages only hide the forms a role may not use; governance decides).
//!
//! - Sign-in takes an API key once and starts a governance session; the browser keeps only the
//!   session's secret, in an `HttpOnly`, `SameSite=Strict` cookie scoped to `/staff` (`Secure`
//!   when the portal is served over TLS). Sessions expire (`staff_session_seconds`), end at
//!   sign-out, and die with their key.
//! - Every form carries a CSRF token derived from the session's secret, and a post from another
//!   origin is refused before it is read (`Origin`, `Sec-Fetch-Site`).
//! - Staff pages are never cached (`Cache-Control: no-store`).

mod audit;
mod home;
mod inventory;
mod record;

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use opendata_limits::PAGE_FORM_BYTES;
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_proto::common::v1::{Principal, Role};
use opendata_proto::governance::v1::{
    AuthenticateRequest, InventoryRecord, KeyKind, ListInventoryRequest,
};
use sha2::{Digest, Sha256};
use tower_http::timeout::RequestBodyDeadlineLayer;

use super::PageError;
use crate::admin::read_body;
use crate::error::SodaError;
use crate::state::EdgeState;

/// The cookie that carries a staff session's secret.
const COOKIE: &str = "od_session";

/// The staff routes.
pub fn routes(state: &EdgeState) -> Router<EdgeState> {
    Router::new()
        .route("/staff", get(home::page))
        .route("/staff/sign-in", post(home::sign_in))
        .route("/staff/sign-out", post(home::sign_out))
        .route("/staff/d/{id}", get(record::page))
        .route("/staff/d/{id}/{action}", post(record::act))
        .route("/staff/audit", get(audit::page))
        .route("/staff/inventory.csv", get(inventory::csv))
        .route("/staff/inventory.json", get(inventory::json))
        .route_layer(DefaultBodyLimit::max(PAGE_FORM_BYTES.get()))
        .route_layer(RequestBodyDeadlineLayer::new(Duration::from_secs(
            state.settings.connections.body_timeout_secs.max(1),
        )))
        .layer(axum::middleware::map_response(crate::no_store))
}

/// A signed-in staff member.
pub struct Staff {
    /// The session's secret, which the staff pages' calls to governance present.
    secret: String,
    /// The signed-in principal.
    pub principal: Principal,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Staff {
    /// Whether this is the Chief Data Officer, who takes every decision.
    pub fn is_cdo(&self) -> bool {
        self.principal.role() == Role::Cdo
    }

    /// Whether this is the Data Officer of `agency`, who nominates, withholds, reopens and
    /// retires its datasets.
    pub fn is_officer_of(&self, agency: &str) -> bool {
        self.principal.role() == Role::Ado && self.principal.agency_id == agency
    }

    /// Whether this role reads the audit log.
    pub fn reads_audit(&self) -> bool {
        matches!(self.principal.role(), Role::Cdo | Role::Panel)
    }

    /// The role as staff call it.
    pub fn role_name(&self) -> &'static str {
        match self.principal.role() {
            Role::Cdo => "Chief Data Officer",
            Role::Ado => "Agency Data Officer",
            Role::Publisher => "Publisher",
            Role::Panel => "Advisory panel",
            Role::Admin => "Administrator",
            Role::Unspecified => "No role",
        }
    }

    /// The agency whose records the inventory shows: the own agency of agency-bound roles,
    /// every agency for the others.
    fn inventory_agency(&self) -> String {
        match self.principal.role() {
            Role::Ado | Role::Publisher => self.principal.agency_id.clone(),
            _ => String::new(),
        }
    }
}

/// The inventory records the signed-in member may read: their agency's, or every agency's for
/// the CDO and the panel (see [`Staff::inventory_agency`]).
async fn readable_inventory(
    state: &EdgeState,
    staff: &Staff,
) -> Result<Vec<InventoryRecord>, PageError> {
    Ok(state
        .governance_as(&staff.secret)
        .map_err(|error| PageError::from_api(state, error))?
        .review
        .list_inventory(ListInventoryRequest {
            agency_id: staff.inventory_agency(),
            states: Vec::new(),
        })
        .await
        .map_err(|status| PageError::from_api(state, status.into()))?
        .into_inner()
        .records)
}

/// The CSRF token of a session: a one-way function of its secret, so the page can show it and
/// nobody without the cookie can make it.
fn csrf_token(secret: &str) -> String {
    let digest = Sha256::digest(format!("opendata staff form\n{secret}").as_bytes());
    digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The session secret the request's cookie carries, when it has the form of one (`ods_` and 40
/// letters or digits): anything else is not worth asking governance about. Two session cookies
/// (one planted by a sibling domain, say) count as none.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    let mut secrets = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value);
    let secret = secrets.next()?;
    let well_formed = secret.len() == 44
        && secret.starts_with("ods_")
        && secret[4..].bytes().all(|byte| byte.is_ascii_alphanumeric());
    (well_formed && secrets.next().is_none()).then_some(secret)
}

/// The staff member signed in on this request; `None` without a live session (none, ended,
/// expired, or its key revoked).
async fn signed_in(state: &EdgeState, headers: &HeaderMap) -> Result<Option<Staff>, PageError> {
    let Some(secret) = session_cookie(headers) else {
        return Ok(None);
    };
    let answer = state
        .identity()
        .authenticate(AuthenticateRequest {
            key: secret.to_owned(),
        })
        .await;
    match answer {
        Ok(response) => {
            let response = response.into_inner();
            let session = response.kind() == KeyKind::Session;
            Ok(response
                .principal
                .filter(|_| session)
                .map(|principal| Staff {
                    secret: secret.to_owned(),
                    csrf: csrf_token(secret),
                    principal,
                }))
        }
        Err(status) if status.code() == tonic::Code::Unauthenticated => Ok(None),
        Err(status) => Err(PageError::from_api(state, SodaError::from(status))),
    }
}

/// The fields of a form posted from one of this portal's pages: a post from another site (a
/// cross-site `Sec-Fetch-Site`, an `Origin` that is neither this host nor `public_url`, or neither
/// header) is refused before its body is parsed.
fn form_fields(
    headers: &HeaderMap,
    public_url: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, SodaError> {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    let fetch_site = header_text("sec-fetch-site");
    let cross_site = matches!(fetch_site, Some("cross-site" | "same-site"));
    // This host, or the portal's public address (behind a proxy that rewrites `Host`).
    let public_origin = public_url.trim_end_matches('/');
    let foreign_origin = match (header_text("origin"), header_text("host")) {
        (Some(origin), _)
            if !public_origin.is_empty() && origin.eq_ignore_ascii_case(public_origin) =>
        {
            false
        }
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_none_or(|(_, authority)| !authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => true,
        // Browsers say where every form post comes from, in one header or the other.
        (None, _) => fetch_site.is_none(),
    };
    if cross_site || foreign_origin {
        return Err(SodaError(ApiError::new(
            ErrorCode::PermissionDenied,
            "this form was sent from another site; use the portal's own page",
        )));
    }
    let body = read_body(body, PAGE_FORM_BYTES)?;
    Ok(form_urlencoded::parse(&body).into_owned().collect())
}

/// The fields of a signed-in staff member's form, without its CSRF token, which must be the
/// session's.
fn staff_form(
    state: &EdgeState,
    staff: &Staff,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, SodaError> {
    let mut fields = form_fields(headers, &state.settings.public_url, body)?;
    let token = fields
        .iter()
        .position(|(name, _)| name == "csrf")
        .map(|index| fields.remove(index).1)
        .unwrap_or_default();
    if !same_bytes(token.as_bytes(), staff.csrf.as_bytes()) {
        return Err(SodaError(ApiError::new(
            ErrorCode::PermissionDenied,
            "this form has expired or did not come from your session: reload the page and try again",
        )));
    }
    Ok(fields)
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Set-Cookie` value of a session (`max_age` seconds, 0 removes it; without one it lasts
/// as long as the browser runs). `Secure` when the portal's public URL is `https`, or the proxy
/// in front says the request came over TLS.
fn session_cookie_header(
    state: &EdgeState,
    headers: &HeaderMap,
    secret: &str,
    max_age: Option<i64>,
) -> Option<HeaderValue> {
    let tls = state.settings.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = if tls { "; Secure" } else { "" };
    let max_age = max_age.map_or_else(String::new, |seconds| format!("; Max-Age={seconds}"));
    HeaderValue::from_str(&format!(
        "{COOKIE}={secret}; Path=/staff; HttpOnly; SameSite=Strict{max_age}{secure}"
    ))
    .ok()
}

/// The status of a page that shows `error`.
fn status_of(error: &SodaError) -> StatusCode {
    StatusCode::from_u16(error.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; od_session=ods_abc; other=1"),
        );
        assert_eq!(session_cookie(&headers), None, "not the form of a secret");
        let secret = format!("ods_{}", "a1".repeat(20));
        let one = format!("theme=dark; od_session={secret}; other=1");
        headers.insert(header::COOKIE, HeaderValue::from_str(&one).expect("ascii"));
        assert_eq!(session_cookie(&headers), Some(secret.as_str()));
        let two = format!("od_session={secret}; od_session={secret}");
        headers.insert(header::COOKIE, HeaderValue::from_str(&two).expect("ascii"));
        assert_eq!(
            session_cookie(&headers),
            None,
            "two session cookies count as none"
        );
    }

    #[test]
    fn csrf_tokens_differ_by_session_and_compare_exactly() {
        let token = csrf_token("ods_one");
        assert_eq!(token.len(), 32);
        assert_ne!(token, csrf_token("ods_two"));
        assert!(same_bytes(
            token.as_bytes(),
            csrf_token("ods_one").as_bytes()
        ));
        assert!(!same_bytes(token.as_bytes(), &token.as_bytes()[1..]));
    }

    #[test]
    fn posts_from_other_sites_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("portal.ct.gov"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://portal.ct.gov"),
        );
        assert!(form_fields(&headers, "", Ok(Bytes::from_static(b"a=1"))).is_ok());
        // Behind a proxy that rewrites Host, the portal's public address is its origin.
        headers.insert(header::HOST, HeaderValue::from_static("edge:8080"));
        assert!(form_fields(&headers, "https://portal.ct.gov/", Ok(Bytes::new())).is_ok());
        assert!(form_fields(&headers, "", Ok(Bytes::new())).is_err());
        headers.insert(header::HOST, HeaderValue::from_static("portal.ct.gov"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(form_fields(&headers, "", Ok(Bytes::new())).is_err());
        headers.remove(header::ORIGIN);
        assert!(
            form_fields(&headers, "", Ok(Bytes::new())).is_err(),
            "no origin at all"
        );
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(form_fields(&headers, "", Ok(Bytes::new())).is_ok());
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(form_fields(&headers, "", Ok(Bytes::new())).is_err());
    }
}
