//! The portal's web pages, rendered on the server from the same gRPC services as the API and
//! usable without JavaScript (every control is a link or a form): home and search (`/`,
//! `/browse`), dataset pages (`/d/{id}`: table with filters, chart and map, the pictures at
//! `/d/{id}/chart.svg` and `/d/{id}/map.svg`; Socrata's `/{category}/{title}/{id}` links redirect
//! there), agency pages (`/agency/{id}`), what is withheld and why (`/transparency`), the freshness
//! dashboard (`/transparency/freshness`), the incentives explorer (`/incentives`), the staff pages
//! where Data Officers and the CDO govern (`/staff`), the stylesheet and two small scripts that
//! only enhance (suggestions as you type; a dataset page's view updated in place). Templates are
//! checked at compile time and escape every value; pages carry a Content-Security-Policy that
//! allows nothing inline and nothing from elsewhere.

mod agency;
mod browse;
pub mod cache;
mod chart;
mod dataset;
mod freshness;
pub mod incentives;
mod labels;
mod map;
mod staff;
mod table;
mod towns;
mod transparency;
mod withheld;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opendata_proto::common::v1::Column;

use crate::error::SodaError;
use crate::state::EdgeState;

/// One option of a choice.
pub struct Choice {
    /// The value sent.
    pub value: String,
    /// What people read.
    pub label: String,
    /// Whether it is the one chosen.
    pub selected: bool,
}

/// Choices of `values` (value, label), the one equal to `chosen` selected.
pub fn choices(values: impl IntoIterator<Item = (String, String)>, chosen: &str) -> Vec<Choice> {
    values
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == chosen,
            value,
            label,
        })
        .collect()
}

/// What every page's frame shows: the portal's name and the search text in the header's box.
pub struct Layout {
    /// The portal's name.
    pub portal: String,
    /// The search text, echoed in the header's box.
    pub query: String,
    /// The release's version, in the URLs of the stylesheet and scripts, so a new release is
    /// never styled or run by a cached old one.
    pub version: &'static str,
}

impl Layout {
    fn new(state: &EdgeState, query: &str) -> Layout {
        Layout {
            portal: state.settings.portal_name.clone(),
            query: query.to_owned(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The page routes.
pub fn routes(state: &EdgeState) -> Router<EdgeState> {
    Router::new()
        .merge(staff::routes(state))
        .route("/", get(browse::home))
        .route("/browse", get(browse::browse))
        .route("/d/{id}", get(dataset::page))
        .route("/d/{id}/chart.svg", get(chart::picture))
        .route("/d/{id}/map.svg", get(map::picture))
        .route(
            "/{category}/{title}/{id}",
            get(dataset::socrata_link).fallback(no_route),
        )
        .route("/incentives", get(incentives::explorer))
        .route("/incentives/company", get(incentives::company))
        .route("/incentives/map.svg", get(incentives::map))
        .route("/transparency", get(transparency::page))
        .route("/transparency/freshness", get(freshness::dashboard))
        .route("/agency/{id}", get(agency::page))
        .route("/assets/site.css", get(stylesheet))
        .route("/assets/suggest.js", get(suggestions_script))
        .route("/assets/table.js", get(table_script))
        .route("/robots.txt", get(robots))
        .layer(axum::middleware::map_response(page_headers))
}

/// A method the long links do not answer: the API's unknown route, as before pages existed.
async fn no_route(request: axum::extract::Request) -> SodaError {
    SodaError::no_route(request.uri().path())
}

/// Crawlers may read every page, but not walk every sorted and paged view of every table (each
/// an expensive query).
async fn robots() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "User-agent: *\nDisallow: /d/*?\nDisallow: /browse?*page=\n",
    )
        .into_response()
}

/// One of the edge's own files, cached for a day: pages link it with the release's version in
/// its URL, so a new release is never served by a cached old one.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/site.css"),
    )
}

/// The script that suggests titles as one types in a search box. Pages work without it.
async fn suggestions_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/suggest.js"),
    )
}

/// The script that updates a dataset page's table, chart and map in place. The page works
/// without it.
async fn table_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/table.js"),
    )
}

/// Content-Security-Policy of every page: the edge's own styles, images, script, requests and
/// forms only; nothing inline, no frames, no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Public dataset `id` with its columns in their order; a page saying why when there is none.
async fn public_dataset(
    state: &EdgeState,
    id: &str,
) -> Result<(opendata_proto::catalog::v1::Dataset, Vec<Column>), PageError> {
    use opendata_proto::catalog::v1::GetDatasetRequest;
    if !crate::resource::is_dataset_id(id) {
        return Err(PageError::not_found(state, "dataset"));
    }
    let api = |error: SodaError| PageError::from_api(state, error);
    let dataset = state
        .catalog(&HeaderMap::new(), None)
        .map_err(api)?
        .get_dataset(GetDatasetRequest { id: id.to_owned() })
        .await
        .map_err(|status| api(status.into()))?
        .into_inner();
    let mut columns = dataset.schema.clone().unwrap_or_default().columns;
    columns.sort_by_key(|column| column.position);
    Ok((dataset, columns))
}

/// What a picture of a dataset (chart or map) is drawn from: its data version, its columns and
/// the table view (filters) the query asks for.
struct PictureOf {
    version: String,
    columns: Vec<Column>,
    view: table::TableView,
}

/// The public dataset `id` a picture draws, with the view `query` asks for.
async fn picture_of(
    state: &EdgeState,
    id: &str,
    query: Option<&str>,
) -> Result<PictureOf, PageError> {
    let (dataset, columns) = public_dataset(state, id).await?;
    let view = table::TableView::parse(query, &columns)
        .map_err(|error| PageError::from_api(state, error))?;
    Ok(PictureOf {
        version: data_version(&dataset),
        columns,
        view,
    })
}

/// A picture drawn by the edge (a chart or a map) as a response, cached for five minutes.
fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        svg,
    )
        .into_response()
}

/// A page as an HTML response.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><title>Error</title><p>This page could not be shown.</p>",
            )
                .into_response()
        }
    }
}

/// A page saying what could not be shown, and why.
#[derive(Template)]
#[template(path = "not_found.html")]
struct Problem {
    layout: Layout,
    heading: String,
    message: String,
}

/// Why a page could not be shown, rendered as a page (never as the API's JSON).
pub struct PageError {
    status: StatusCode,
    layout: Layout,
    heading: &'static str,
    message: String,
}

impl PageError {
    fn from_api(state: &EdgeState, error: SodaError) -> PageError {
        let status = StatusCode::from_u16(error.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let heading = match status.as_u16() {
            404 => "Not found",
            429 | 503 => "The portal is busy; try again in a moment",
            400..=499 => "This request cannot be answered",
            _ => "Something went wrong",
        };
        let error = error.0.bounded();
        // Name the parameter that was wrong, when the message does not.
        let message = match error.details.get("parameter") {
            Some(parameter) if !error.message.contains(parameter.as_str()) => {
                format!("{}: {}", opendata_limits::excerpt(parameter), error.message)
            }
            _ => error.message,
        };
        PageError {
            status,
            layout: Layout::new(state, ""),
            heading,
            message,
        }
    }

    fn not_found(state: &EdgeState, what: &str) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            layout: Layout::new(state, ""),
            heading: "Not found",
            message: format!(
                "There is no {what} here: it may have been withheld, retired or mistyped."
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = render(
            status,
            &Problem {
                layout: self.layout,
                heading: self.heading.to_owned(),
                message: self.message,
            },
        );
        let retry_after = match status {
            StatusCode::SERVICE_UNAVAILABLE => Some("5"),
            StatusCode::TOO_MANY_REQUESTS => Some("1"),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}

/// Longest a page waits for agency names before showing ids.
const AGENCY_NAMES_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long pages reuse the agency names they read.
const AGENCY_NAMES_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Agency ids and names, read from governance at most once a minute; none when it does not
/// answer (ids are shown instead, and it is asked again next time).
pub(super) async fn agency_names(state: &EdgeState) -> Arc<Vec<(String, String)>> {
    use opendata_proto::governance::v1::ListAgenciesRequest;
    let mut cached = state.agency_names.lock().await;
    if let Some((read_at, names)) = cached.as_ref()
        && read_at.elapsed() < AGENCY_NAMES_TTL
    {
        return Arc::clone(names);
    }
    // One reader at a time (the others wait for its answer), never for long.
    let mut identity = state.identity();
    let read = identity.list_agencies(ListAgenciesRequest {});
    match tokio::time::timeout(AGENCY_NAMES_WAIT, read)
        .await
        .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("governance is slow")))
    {
        Ok(response) => {
            let names: Arc<Vec<(String, String)>> = Arc::new(
                response
                    .into_inner()
                    .agencies
                    .into_iter()
                    .map(|agency| (agency.id, agency.name))
                    .collect(),
            );
            *cached = Some((std::time::Instant::now(), Arc::clone(&names)));
            names
        }
        Err(status) => {
            tracing::warn!(error = %status.message(), "agency names unavailable for a page");
            Arc::default()
        }
    }
}

/// The name of agency `id` among `names`; the id itself when it has none.
pub(super) fn agency_name(names: &[(String, String)], id: &str) -> String {
    names
        .iter()
        .find(|(agency, _)| agency == id)
        .map_or_else(|| id.to_owned(), |(_, name)| name.clone())
}

/// The text of `field` in a row of [`public_rows`] (empty when the row has none).
fn row_text(row: &serde_json::Map<String, serde_json::Value>, field: &str) -> String {
    row.get(field)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The rows a SoQL query (`soql`, a query string) of dataset `dataset_id` returns, read as the
/// anonymous public reads them (or kept from a moment ago: see [`cache`]; `version` is the
/// dataset's data version when the caller knows it); `None` when they pass `cap` bytes.
async fn public_rows(
    state: &EdgeState,
    dataset_id: &str,
    version: Option<&str>,
    soql: &str,
    cap: usize,
) -> Result<Option<Arc<cache::Rows>>, SodaError> {
    use opendata_proto::catalog::v1::RowFormat;
    if let Some(rows) = state.page_rows.get(dataset_id, version, soql) {
        return Ok(Some(rows));
    }
    use opendata_proto::catalog::v1::query_rows_response::Part;
    let mut params = crate::params::parse(Some(soql))?;
    params.request.dataset_id = dataset_id.to_owned();
    params.request.format = RowFormat::Json as i32;
    let mut stream = state
        .catalog(&HeaderMap::new(), None)?
        .query_rows(params.request)
        .await?
        .into_inner();
    let mut body = Vec::new();
    while let Some(message) = stream.message().await? {
        if let Some(Part::Chunk(bytes)) = message.part {
            if body.len() + bytes.len() > cap {
                return Ok(None);
            }
            body.extend_from_slice(&bytes);
        }
    }
    let rows: Arc<cache::Rows> = Arc::new(
        serde_json::from_slice(&body)
            .map_err(|error| SodaError(opendata_platform::error::internal(&error)))?,
    );
    state
        .page_rows
        .put(dataset_id, version, soql, Arc::clone(&rows), body.len());
    Ok(Some(rows))
}

/// A dataset's data version as the page cache keys it: when its data last changed.
fn data_version(dataset: &opendata_proto::catalog::v1::Dataset) -> String {
    dataset
        .data_updated_at
        .as_ref()
        .map(|at| format!("{}.{}", at.seconds, at.nanos))
        .unwrap_or_default()
}

/// A date as residents read it (`March 4, 2026`).
fn long_date(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(opendata_platform::timestamp::from_proto)
        .map(|time| time.format("%B %-d, %Y").to_string())
        .unwrap_or_else(|| "never".to_owned())
}

/// A page's query string (none is empty), or a 400 when it is longer than `page_query_bytes`.
fn within_page_query(query: Option<&str>) -> Result<&str, SodaError> {
    let query = query.unwrap_or_default();
    let limit = opendata_limits::PAGE_QUERY_BYTES;
    if query.len() > limit.get() {
        return Err(SodaError::bad_parameter(
            "query",
            format!(
                "the query string is longer than {} bytes (limit {})",
                limit.value, limit.name
            ),
        ));
    }
    Ok(query)
}

/// A page number parameter: a number from 1 to `last`, or a 400 naming `parameter`.
fn page_number<N>(parameter: &str, value: &str, last: N) -> Result<N, SodaError>
where
    N: std::str::FromStr + PartialOrd + From<u8> + std::fmt::Display + Copy,
{
    value
        .parse()
        .ok()
        .filter(|page| *page >= N::from(1) && *page <= last)
        .ok_or_else(|| {
            SodaError::bad_parameter(
                parameter,
                format!("{parameter} is a number from 1 to {last}"),
            )
        })
}

/// A query string of `pairs`, escaped.
fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}
