//! The dataset page (`/d/{id}`): what the dataset is, who publishes it and when it last changed,
//! its columns, its first rows as a table that sorts and pages by links (each view a plain SoQL
//! query, shown and linked), downloads and how to call the API. Socrata's long links
//! (`/{category}/{title}/{id}`) redirect here.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use opendata_proto::catalog::v1::{Dataset, GetDatasetRequest};
use opendata_proto::common::v1::{Column, ColumnType};
use serde_json::Value;

use super::{
    Layout, PageError, agency_name, agency_names, long_date, page_number, public_rows,
    query_string, render,
};
use opendata_limits::{PAGE_TABLE_BYTES, excerpt};

use crate::error::SodaError;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

/// Rows per table page.
const ROWS_PER_PAGE: u64 = 20;
/// Table pages one can go to by links (deeper reading is for the API).
const MAX_TABLE_PAGE: u64 = 500;
/// Characters shown of one cell.
const CELL_CHARS: usize = 200;
/// Most bytes of rows one table page reads; past them it says to download instead.
const TABLE_BYTES: usize = PAGE_TABLE_BYTES.get();

/// A column as the page shows it.
pub struct ColumnView {
    name: String,
    field: String,
    kind: &'static str,
    description: String,
    /// A link ordering the table by this column; only indexed columns order cheaply.
    sort_href: Option<String>,
    /// `ascending` or `descending` when the table is ordered by this column.
    sorted: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    layout: Layout,
    id: String,
    title: String,
    description: String,
    agency_id: String,
    agency: String,
    category: String,
    tags: Vec<String>,
    license: String,
    frequency: String,
    updated: String,
    freshness: Option<Freshness>,
    rows: u64,
    has_location: bool,
    columns: Vec<ColumnView>,
    table: Vec<Vec<String>>,
    too_large: bool,
    first_row: u64,
    last_row: u64,
    previous: Option<String>,
    next: Option<String>,
    query_url: String,
    /// The table's SoQL parameters, for the snippets.
    soql: String,
    /// The table's order, for the snippets.
    order: Option<String>,
    page_rows: u64,
    endpoint: String,
    domain: String,
}

/// Whether the dataset is kept up to date, as governance's public freshness dataset says.
pub struct Freshness {
    /// `current`, `due` or `stale`.
    status: String,
    /// What residents read: on time, due, stale.
    label: &'static str,
    /// When the next update is due (`2026-12-31`), if the dataset declares a frequency.
    due: String,
}

/// The table's view: a page and an order.
struct TableView {
    page: u64,
    order: Option<String>,
    /// Whether the order is descending (`dir=desc`).
    descending: bool,
}

impl TableView {
    fn parse(query: Option<&str>, columns: &[Column]) -> Result<TableView, SodaError> {
        let mut view = TableView {
            page: 1,
            order: None,
            descending: false,
        };
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "page" => view.page = page_number("page", &value, MAX_TABLE_PAGE)?,
                "order" => {
                    if !columns.iter().any(|c| c.indexed && c.field_name == value) {
                        return Err(SodaError::bad_parameter(
                            "order",
                            format!(
                                "the table orders by an indexed column; {:?} is not one",
                                excerpt(&value)
                            ),
                        ));
                    }
                    view.order = Some(value.into_owned());
                }
                "dir" => {
                    view.descending = match value.as_ref() {
                        "asc" => false,
                        "desc" => true,
                        other => {
                            return Err(SodaError::bad_parameter(
                                "dir",
                                format!("dir is asc or desc, not {:?}", excerpt(other)),
                            ));
                        }
                    }
                }
                other => {
                    return Err(SodaError::bad_parameter(
                        other,
                        format!(
                            "unknown parameter {}; the table takes page, order and dir",
                            excerpt(other)
                        ),
                    ));
                }
            }
        }
        Ok(view)
    }

    /// The SoQL parameters of this view.
    fn soql(&self) -> String {
        let offset = ((self.page - 1) * ROWS_PER_PAGE).to_string();
        let limit = ROWS_PER_PAGE.to_string();
        let mut pairs = vec![("$limit", limit.as_str()), ("$offset", offset.as_str())];
        let order = self.soql_order();
        if let Some(order) = &order {
            pairs.push(("$order", order));
        }
        query_string(pairs)
    }

    /// The `$order` of this view (`population DESC`).
    fn soql_order(&self) -> Option<String> {
        let order = self.order.as_deref()?;
        Some(match self.descending {
            true => format!("{order} DESC"),
            false => order.to_owned(),
        })
    }

    /// A link to this page with another view.
    fn link(&self, id: &str, page: u64, order: Option<&str>, descending: bool) -> String {
        let page = page.to_string();
        let mut pairs = Vec::new();
        if let Some(order) = order {
            pairs.push(("order", order));
            if descending {
                pairs.push(("dir", "desc"));
            }
        }
        if page != "1" {
            pairs.push(("page", page.as_str()));
        }
        match pairs.is_empty() {
            true => format!("/d/{id}"),
            false => format!("/d/{id}?{}", query_string(pairs)),
        }
    }
}

/// `GET /{category}/{title}/{id}`: Socrata's long dataset links, kept working. Any other path of
/// three segments is the API's unknown route, as before pages existed.
pub async fn socrata_link(Path((category, title, id)): Path<(String, String, String)>) -> Response {
    // The API's own prefixes are never a category: their unknown paths stay the API's 404s.
    let reserved = ["api", "resource", "d", "assets", "browse"].contains(&category.as_str());
    if is_dataset_id(&id) && !reserved {
        Redirect::permanent(&format!("/d/{id}")).into_response()
    } else {
        SodaError::no_route(&format!("/{category}/{title}/{id}")).into_response()
    }
}

/// `GET /d/{id}?page=&order=`: the dataset page, as the public sees the dataset.
pub async fn page(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    if !is_dataset_id(&id) {
        return Err(PageError::not_found(&state, "dataset"));
    }
    let public = HeaderMap::new();
    let api = |error: SodaError| PageError::from_api(&state, error);
    let dataset: Dataset = state
        .catalog(&public, None)
        .map_err(api)?
        .get_dataset(GetDatasetRequest { id: id.clone() })
        .await
        .map_err(|status| api(status.into()))?
        .into_inner();
    let mut columns = dataset.schema.clone().unwrap_or_default().columns;
    columns.sort_by_key(|column| column.position);
    let view = TableView::parse(query.as_deref(), &columns).map_err(api)?;
    let table = rows(&state, &id, &view, &columns).await.map_err(api)?;
    let too_large = table.is_none();
    let table = table.unwrap_or_default();

    let metadata = dataset.metadata.clone().unwrap_or_default();
    let freshness = freshness(&state, &id).await;
    let rows = u64::try_from(dataset.row_count).unwrap_or_default();
    let first_row = (view.page - 1) * ROWS_PER_PAGE + 1;
    let last_row = (first_row + table.len() as u64).saturating_sub(1);
    let last_page = rows.div_ceil(ROWS_PER_PAGE).clamp(1, MAX_TABLE_PAGE);
    let order = view.order.as_deref();
    let endpoint = format!("{}/resource/{id}.json", state.settings.base_url());
    let page = DatasetPage {
        layout: Layout::new(&state, ""),
        agency: agency_name(&agency_names(&state).await, &dataset.agency_id),
        agency_id: dataset.agency_id.clone(),
        title: metadata.title,
        description: metadata.description,
        category: metadata.category,
        tags: metadata.keywords,
        license: metadata.license,
        frequency: metadata.accrual_periodicity,
        updated: long_date(
            dataset
                .data_updated_at
                .as_ref()
                .or(dataset.metadata_updated_at.as_ref()),
        ),
        freshness,
        rows,
        has_location: columns
            .iter()
            .any(|column| matches!(column.r#type(), ColumnType::Point | ColumnType::Location)),
        columns: columns
            .iter()
            .map(|column| ColumnView {
                name: column.display_name.clone(),
                field: column.field_name.clone(),
                kind: column.r#type().data_type_name(),
                description: column.description.clone(),
                // A sorted column's link turns the order around.
                sort_href: column.indexed.then(|| {
                    let sorted = order == Some(column.field_name.as_str());
                    view.link(&id, 1, Some(&column.field_name), sorted && !view.descending)
                }),
                sorted: (order == Some(column.field_name.as_str())).then_some(if view.descending {
                    "descending"
                } else {
                    "ascending"
                }),
            })
            .collect(),
        table,
        too_large,
        first_row: first_row.min(last_row.max(1)),
        last_row,
        previous: (view.page > 1).then(|| view.link(&id, view.page - 1, order, view.descending)),
        next: (view.page < last_page)
            .then(|| view.link(&id, view.page + 1, order, view.descending)),
        query_url: format!("/resource/{id}.json?{}", view.soql()),
        soql: view.soql(),
        order: view.soql_order(),
        page_rows: ROWS_PER_PAGE,
        endpoint,
        domain: state
            .settings
            .base_url()
            .split_once("://")
            .map_or(state.settings.base_url(), |(_, host)| host)
            .trim_end_matches('/')
            .to_owned(),
        id,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The dataset's row of the public freshness dataset; none when there is none (not yet computed,
/// or the freshness dataset is not kept) or it cannot be read: the page shows no badge then.
async fn freshness(state: &EdgeState, id: &str) -> Option<Freshness> {
    // `id` is a checked dataset id: safe inside a SoQL string literal.
    let soql = query_string([
        ("$where", format!("dataset_id='{id}'").as_str()),
        ("$limit", "1"),
    ]);
    let rows = public_rows(
        state,
        &state.settings.freshness_dataset_id,
        &soql,
        TABLE_BYTES,
    )
    .await
    .ok()??;
    let row = rows.first()?;
    let text = |field: &str| row.get(field).and_then(Value::as_str).unwrap_or_default();
    let label = match text("status") {
        "current" => "On time",
        "due" => "Update due",
        "stale" => "Stale",
        _ => return None,
    };
    Some(Freshness {
        status: text("status").to_owned(),
        label,
        due: text("due").chars().take(10).collect(),
    })
}

/// The rows of the table's view, one string per column, read as the public reads them; `None`
/// when they are too large to show ([`TABLE_BYTES`]).
async fn rows(
    state: &EdgeState,
    id: &str,
    view: &TableView,
    columns: &[Column],
) -> Result<Option<Vec<Vec<String>>>, SodaError> {
    let Some(rows) = public_rows(state, id, &view.soql(), TABLE_BYTES).await? else {
        return Ok(None);
    };
    Ok(Some(
        rows.iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|column| cell(row.get(&column.field_name)))
                    .collect()
            })
            .collect(),
    ))
}

/// A value as a table cell: text as it is, anything else as compact JSON, cut when long.
fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    if text.chars().count() > CELL_CHARS {
        let cut: String = text.chars().take(CELL_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}
