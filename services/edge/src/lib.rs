//! The edge: the portal's web pages ([`pages`]) and the public REST API. Socrata-compatible reads
//! (`/resource`, `/api/views`), catalog search (`/api/catalog/v1`), the DCAT-US `/data.json`,
//! DECD's incentives database (`/api/incentives/`), governance actions for ADOs and the CDO
//! (`/api/admin/`, with a key), and health endpoints. It holds nothing durable; every answer comes
//! from the services over gRPC.

// A service crate: an item whose name says what it is goes without a doc comment (library
// crates under crates/ keep `missing_docs`).
#![allow(missing_docs)]

pub mod admin;
pub mod changelog;
pub mod changes;
#[warn(missing_docs)]
pub mod config;
pub mod dcat;
pub mod diff;
pub mod discovery;
#[warn(missing_docs)]
pub mod error;
pub mod health;
pub mod held_body;
pub mod incentives;
pub mod json;
pub mod json_csv;
pub mod limited;
pub mod pages;
pub mod params;
pub mod rate_limit;
pub mod resource;
pub mod server;
pub mod since;
pub mod spreadsheet;
pub mod stalled_writes;
pub mod state;
pub mod versions;
pub mod views;
pub mod write;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use opendata_limits::{ADMIN_BODY_BYTES, WRITE_BODY_SECONDS};
use opendata_platform::metrics;
use opendata_platform::shutdown::Shutdown;
use opendata_platform::tasks::{TaskFailed, Tasks};
use opendata_platform::telemetry::{HeaderReader, link_remote};
use tokio::net::TcpListener;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};
use tower_http::timeout::RequestBodyDeadlineLayer;
use tower_http::trace::TraceLayer;

use crate::error::SodaError;
use crate::state::EdgeState;

/// The edge's routes.
pub fn router(state: EdgeState) -> Router {
    let limited = Router::new()
        .route("/resource/{file}", get(resource::resource))
        .route("/api/views/{file}", get(views::view))
        .route("/api/views/{id}/versions", get(versions::versions))
        .route("/api/views/{id}/changes", get(changes::changes))
        .route("/api/views/{id}/diff", get(diff::summary))
        .route("/api/views/{id}/diff.json", get(diff::rows_json))
        .route("/api/views/{id}/diff.csv", get(diff::rows_csv))
        .route("/data.json", get(dcat::data_json))
        .route("/api/catalog/v1", get(discovery::catalog))
        .route("/api/catalog/v1/autocomplete", get(discovery::autocomplete))
        .route(
            "/api/catalog/v1/domain_categories",
            get(discovery::domain_categories),
        )
        .route("/api/catalog/v1/domain_tags", get(discovery::domain_tags))
        .route("/api/incentives/awards", get(incentives::awards))
        .route("/api/incentives/awards.csv", get(incentives::download_csv))
        .route(
            "/api/incentives/awards.json",
            get(incentives::download_json),
        )
        .route("/api/incentives/awards/{id}", get(incentives::award))
        .route(
            "/api/incentives/awards/{id}/history",
            get(incentives::history),
        )
        .route("/api/incentives/summary", get(incentives::summary))
        .route("/api/incentives/programs", get(incentives::programs))
        .route("/api/incentives/tax-credits", get(incentives::tax_credits))
        .merge(pages::routes(&state))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ));
    // Staff routes are limited too: a key is checked with governance on every call, and guessing
    // keys must be as slow as anything else.
    let admin = Router::new()
        .route("/api/admin/datasets/{id}", get(admin::record))
        .route("/api/admin/datasets/{id}/{action}", post(admin::step))
        .route("/api/admin/inventory", get(admin::inventory))
        .route("/api/admin/inventory/{file}", get(admin::plan))
        .route("/api/admin/stale", get(admin::stale))
        .route("/api/admin/audit", get(admin::audit))
        .route("/api/admin/audit.csv", get(admin::audit_csv))
        .route_layer(DefaultBodyLimit::max(ADMIN_BODY_BYTES.get()))
        .route_layer(RequestBodyDeadlineLayer::new(Duration::from_secs(
            state.settings.connections.body_timeout_secs.max(1),
        )))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(axum::middleware::map_response(no_store));
    // Socrata's write API: bodies far larger than a staff request's (limited by the handler as
    // they stream), with their own time.
    let write = Router::new()
        .route("/resource/{file}", post(write::upsert).put(write::replace))
        .route_layer(DefaultBodyLimit::disable())
        .route_layer(RequestBodyDeadlineLayer::new(Duration::from_secs(
            WRITE_BODY_SECONDS.value,
        )))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(axum::middleware::map_response(no_store));
    Router::new()
        .merge(limited)
        .merge(admin)
        .merge(write)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route_layer(axum::middleware::from_fn(count_request))
        .fallback(|request: Request| async move {
            metrics::record_http(
                "unmatched".to_owned(),
                request.method(),
                StatusCode::NOT_FOUND,
                None,
            );
            SodaError::no_route(request.uri().path())
        })
        .layer(axum::middleware::map_response(error::in_socratas_shape))
        .layer(axum::middleware::map_response(no_sniffing))
        // Browsers do not count `Authorization` under a wildcard, so the requested headers are
        // echoed: staff pages on other origins may send keys. No credentials are allowed, so no
        // other site reads an answer made with the staff pages' cookie (which is `SameSite=Strict`
        // and guarded by CSRF tokens as well).
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(AllowHeaders::mirror_request()),
        )
        // Each request starts a trace of its own: a client's `traceparent` is linked, never
        // joined, so the public cannot steer trace ids.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let span = tracing::info_span!("http", method = %request.method(), path = %request.uri().path());
            link_remote(&span, &HeaderReader(request.headers()));
            span
        }))
        .with_state(state)
}

/// Counts and times a request by the route it matched (never by its raw path, which a caller
/// could vary without end).
async fn count_request(
    route: axum::extract::MatchedPath,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics::record_http(
        route.as_str().to_owned(),
        &method,
        response.status(),
        Some(started.elapsed()),
    );
    response
}

/// Every response says its content type is to be believed (`X-Content-Type-Options: nosniff`), so
/// a browser never runs a CSV or JSON download as a page.
async fn no_sniffing(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Answers made for one signed-in caller (a staff page, an admin route) are kept by no cache,
/// not even the browser's (`Cache-Control: no-store`).
pub(crate) async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Serves the edge on `listener` until `shutdown` (or until a task of its fails), then drains for
/// at most `grace`.
pub async fn serve(
    state: EdgeState,
    listener: TcpListener,
    shutdown: Shutdown,
    grace: Duration,
) -> Result<(), TaskFailed> {
    let mut tasks = Tasks::new("edge", state.health.clone(), &shutdown);
    if let Some(limits) = state.rate_limits() {
        let limits = Arc::clone(limits);
        tasks.spawn_every(
            "rate limit pruning",
            rate_limit::PRUNE_INTERVAL,
            move || {
                limits.prune();
                std::future::ready(Ok::<(), std::convert::Infallible>(()))
            },
        );
    }
    let shutdown = tasks.shutdown();
    let connections = state.settings.connections.clone();
    let behind_proxy = state.settings.rate_limits.trust_forwarded_for;
    let app = router(state);
    let server = async move {
        server::serve(listener, app, &connections, behind_proxy, shutdown, grace).await
    };
    tasks.run(server, grace).await
}
