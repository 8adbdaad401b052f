//! The dataset page (`/d/{id}`): what the dataset is, who publishes it and when it last changed,
//! its columns, its first rows as a table that sorts, pages and filters by links and forms (each
//! view a plain SoQL query, shown and linked; see [`super::table`]), a chart ([`super::chart`]) and
//! a map ([`super::map`]) of the filtered rows, downloads and how to call the API. Socrata's long links
//! (`/{category}/{title}/{id}`) redirect here.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opendata_proto::common::v1::{Column, ColumnType};
use serde_json::Value;

use super::chart::{self, ChartSpec, ChartView};
use super::map::MapView;
use super::table::{
    FilterField, FilterKind, MAX_TABLE_PAGE, ROWS_PER_PAGE, TableView, filter_fields,
};
use super::{
    Choice, Layout, PageError, agency_name, agency_names, data_version, long_date, public_dataset,
    public_rows, render,
};
use opendata_limits::PAGE_TABLE_BYTES;

use crate::error::SodaError;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

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
    /// The filter form's boxes.
    filter_boxes: Vec<FilterBox>,
    /// What the chart form keeps of the view: filters, order, the map.
    chart_keeps: Vec<(String, String)>,
    /// What the filter form keeps besides the order: the chart, the map.
    filter_keeps: Vec<(String, String)>,
    /// The chart asked for.
    chart: Option<ChartView>,
    /// The map, for datasets with a point or town column.
    map: Option<MapView>,
    /// The columns a chart can group by.
    chart_by: Vec<Choice>,
    /// What a chart can measure.
    chart_values: Vec<Choice>,
    /// Whether the table is filtered.
    filtered: bool,
    /// The table without its filters.
    unfiltered: String,
    /// The order and direction the filter form keeps.
    sort: Option<String>,
    descending: bool,
    /// The table's `$where` as a double-quoted string literal, for the snippets.
    filter: Option<String>,
    query_url: String,
    /// The table's SoQL parameters, for the snippets.
    soql: String,
    /// The table's order, for the snippets.
    order: Option<String>,
    page_rows: u64,
    endpoint: String,
    domain: String,
}

impl ColumnView {
    fn new(column: &Column, view: &TableView, id: &str) -> ColumnView {
        let sorted = view.order.as_deref() == Some(column.field_name.as_str());
        ColumnView {
            name: column.display_name.clone(),
            field: column.field_name.clone(),
            kind: column.r#type().data_type_name(),
            description: column.description.clone(),
            // A sorted column's link turns the order around.
            sort_href: column
                .indexed
                .then(|| view.link(id, 1, Some(&column.field_name), sorted && !view.descending)),
            sorted: sorted.then_some(if view.descending {
                "descending"
            } else {
                "ascending"
            }),
        }
    }
}

/// One box of the filter form.
pub struct FilterBox {
    /// Its parameter (`min.population`), also its element id.
    param: String,
    /// What it asks (`Population at least`).
    label: String,
    /// Its value now.
    value: String,
    /// `text`, `number`, `date` or `checkbox` (a choice of any, yes, no).
    kind: &'static str,
}

/// The boxes of the filter form for `fields`, filled with `view`'s values.
fn filter_boxes(fields: &[FilterField], view: &TableView) -> Vec<FilterBox> {
    let mut boxes = Vec::new();
    for field in fields {
        let (kind, parts): (&'static str, &[(&str, &str)]) = match field.kind {
            FilterKind::Text => ("text", &[("has", "contains")]),
            FilterKind::Number => ("number", &[("min", "at least"), ("max", "at most")]),
            FilterKind::Date => ("date", &[("from", "from"), ("to", "to")]),
            FilterKind::Checkbox => ("checkbox", &[("is", "is")]),
        };
        for (prefix, words) in parts {
            boxes.push(FilterBox {
                param: format!("{prefix}.{}", field.field),
                label: format!("{} {words}", field.name),
                value: view.value_of(prefix, &field.field).to_owned(),
                kind,
            });
        }
    }
    boxes
}

/// The number of rows a filtered view keeps (`soql` counts them as `n`).
async fn filtered_count(
    state: &EdgeState,
    id: &str,
    version: &str,
    soql: &str,
) -> Result<u64, SodaError> {
    let rows = public_rows(state, id, Some(version), soql, TABLE_BYTES)
        .await?
        .unwrap_or_default();
    Ok(rows
        .first()
        .and_then(|row| row.get("n"))
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok())
        .unwrap_or_default())
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

/// `GET /{category}/{title}/{id}`: Socrata's long dataset links, kept working. Any other path of
/// three segments is the API's unknown route, as before pages existed.
pub async fn socrata_link(Path((category, title, id)): Path<(String, String, String)>) -> Response {
    // The API's own prefixes are never a category: their unknown paths stay the API's 404s.
    let reserved = [
        "api",
        "resource",
        "d",
        "assets",
        "browse",
        "agency",
        "staff",
        "transparency",
        "incentives",
    ]
    .contains(&category.as_str());
    if is_dataset_id(&id) && !reserved {
        Redirect::permanent(&format!("/d/{id}")).into_response()
    } else {
        SodaError::no_route(&format!("/{category}/{title}/{id}")).into_response()
    }
}

/// `GET /d/{id}?page=&order=&dir=&{filters}&chart.by=&chart.value=&map=`: the dataset page, as
/// the public sees the dataset.
pub async fn page(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let (dataset, columns) = public_dataset(&state, &id).await?;
    let version = data_version(&dataset);
    let api = |error: SodaError| PageError::from_api(&state, error);
    let view = TableView::parse(query.as_deref(), &columns).map_err(api)?;
    let chart = match ChartSpec::parse(query.as_deref(), &columns).map_err(api)? {
        Some(spec) => Some(
            ChartView::read(&state, &id, &version, &spec, &view, &columns)
                .await
                .map_err(api)?,
        ),
        None => None,
    };
    let table = rows(&state, &id, &version, &view, &columns)
        .await
        .map_err(api)?;
    let too_large = table.is_none();
    let table = table.unwrap_or_default();
    let rows = match view.count_soql() {
        Some(soql) => filtered_count(&state, &id, &version, &soql)
            .await
            .map_err(api)?,
        None => u64::try_from(dataset.row_count).unwrap_or_default(),
    };

    let metadata = dataset.metadata.clone().unwrap_or_default();
    let freshness = freshness(&state, &id).await;
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
            .map(|column| ColumnView::new(column, &view, &id))
            .collect(),
        table,
        too_large,
        first_row: first_row.min(last_row.max(1)),
        last_row,
        previous: (view.page > 1).then(|| view.link(&id, view.page - 1, order, view.descending)),
        next: (view.page < last_page)
            .then(|| view.link(&id, view.page + 1, order, view.descending)),
        chart_by: filter_fields(&columns)
            .into_iter()
            .map(|field| Choice {
                selected: chart.as_ref().is_some_and(|c| c.by == field.field),
                value: field.field,
                label: field.name,
            })
            .collect(),
        chart_values: chart::measures(&columns, chart.as_ref().map(|c| c.value.as_str())),
        chart,
        map: MapView::of(&id, &columns, query.as_deref(), &view),
        chart_keeps: view.kept(|name| !name.starts_with("chart.")),
        filter_keeps: view.others.clone(),
        filter_boxes: filter_boxes(&filter_fields(&columns), &view),
        filtered: !view.filters.is_empty(),
        unfiltered: TableView::parse(None, &columns).map_err(api)?.link(
            &id,
            1,
            order,
            view.descending,
        ),
        sort: order.map(str::to_owned),
        descending: view.descending,
        filter: view
            .soql_where()
            .map(|filter| Value::String(filter).to_string()),
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
/// or the freshness dataset is not kept), it has no schedule, or it cannot be read: the page shows
/// no badge then.
async fn freshness(state: &EdgeState, id: &str) -> Option<Freshness> {
    // `id` is a checked dataset id: safe inside a SoQL string literal.
    let row = super::freshness::rows(state, Some(&format!("dataset_id='{id}'")))
        .await?
        .into_iter()
        .next()
        .filter(|row| row.status != "not scheduled")?;
    Some(Freshness {
        label: row.label(),
        status: row.status,
        due: row.due,
    })
}

/// The rows of the table's view, one string per column, read as the public reads them; `None`
/// when they are too large to show ([`TABLE_BYTES`]).
async fn rows(
    state: &EdgeState,
    id: &str,
    version: &str,
    view: &TableView,
    columns: &[Column],
) -> Result<Option<Vec<Vec<String>>>, SodaError> {
    let Some(rows) = public_rows(state, id, Some(version), &view.soql(), TABLE_BYTES).await? else {
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
