//! Whether published datasets are kept up to date, as governance's public freshness dataset
//! (`edge.freshness_dataset_id`) says: one row per published dataset with its agency, due date and
//! status. The dataset page's badge, the agency pages and the freshness dashboard
//! (`/transparency/freshness`: per agency, how many are on time, due and stale, and which) all read
//! it here.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use opendata_limits::PAGE_TABLE_BYTES;
use opendata_platform::error::ErrorCode;

use opendata_proto::governance::v1::FreshnessStatus;

use super::labels::freshness_label;
use super::{
    Layout, PageError, agency_name, agency_names, public_rows, query_string, render, row_text,
};
use crate::state::EdgeState;

/// Rows read at most (a state publishes a few thousand datasets).
const MOST_ROWS: &str = "10000";

/// One published dataset's freshness.
pub struct FreshRow {
    /// Dataset id.
    pub id: String,
    pub title: String,
    /// Agency id.
    pub agency: String,
    /// The next update's due date (`2026-12-31`), when it has a schedule.
    pub due: String,
    /// `current`, `due`, `stale` or `not scheduled`.
    pub status: String,
}

impl FreshRow {
    /// The status as residents read it.
    pub fn label(&self) -> &'static str {
        label(&self.status)
    }

    /// Whether it is late (due or stale).
    pub fn late(&self) -> bool {
        matches!(self.status.as_str(), "due" | "stale")
    }
}

/// A freshness status of the public dataset (`current`, `due`, ...) as residents read it.
pub fn label(status: &str) -> &'static str {
    freshness_label(match status {
        "current" => FreshnessStatus::Current,
        "due" => FreshnessStatus::Due,
        "stale" => FreshnessStatus::Stale,
        _ => FreshnessStatus::NotScheduled,
    })
}

/// The freshness rows matching `filter` (a SoQL `$where`, its values checked by the caller),
/// most overdue first; `None` when they cannot be read (the dataset is not kept, governance has
/// not written it yet, or they are more than a page holds), which pages say rather than showing
/// nothing as if all were well.
pub async fn rows(state: &EdgeState, filter: Option<&str>) -> Option<Vec<FreshRow>> {
    let mut pairs = vec![
        ("$select", "dataset_id, title, agency, due, status"),
        ("$order", "due, dataset_id"),
        ("$limit", MOST_ROWS),
    ];
    if let Some(filter) = filter {
        pairs.push(("$where", filter));
    }
    let soql = query_string(pairs);
    let read = public_rows(
        state,
        &state.settings.freshness_dataset_id,
        None,
        &soql,
        PAGE_TABLE_BYTES.get(),
    )
    .await;
    let rows = match read {
        Ok(Some(rows)) => rows,
        Ok(None) => {
            tracing::warn!("freshness rows past what a page reads");
            return None;
        }
        // A portal whose governance keeps no freshness dataset has no figures, not missing ones.
        Err(error) if error.0.code == ErrorCode::DatasetNotFound => Default::default(),
        Err(error) => {
            tracing::warn!(error = %error.0.message, "freshness unavailable for a page");
            return None;
        }
    };
    Some(
        rows.iter()
            .map(|row| {
                let text = |field: &str| row_text(row, field);
                FreshRow {
                    id: text("dataset_id"),
                    title: text("title"),
                    agency: text("agency"),
                    due: text("due").chars().take(10).collect(),
                    status: text("status"),
                }
            })
            .collect(),
    )
}

/// How many of an agency's published datasets are in each state.
#[derive(Default)]
pub struct Tally {
    /// Agency name.
    pub agency: String,
    pub agency_id: String,
    /// On time.
    pub current: usize,
    /// Past due, within the grace period.
    pub due: usize,
    /// Past the grace period.
    pub stale: usize,
    /// Without a schedule.
    pub unscheduled: usize,
}

impl Tally {
    /// Counts `row`.
    pub fn add(&mut self, row: &FreshRow) {
        match row.status.as_str() {
            "current" => self.current += 1,
            "due" => self.due += 1,
            "stale" => self.stale += 1,
            _ => self.unscheduled += 1,
        }
    }
}

#[derive(Template)]
#[template(path = "freshness.html")]
struct Dashboard {
    layout: Layout,
    tallies: Vec<Tally>,
    late: Vec<FreshRow>,
    total: Tally,
    /// The freshness dataset's id.
    dataset: String,
    /// Whether the figures could not be read.
    unavailable: bool,
}

/// `GET /transparency/freshness`: per agency, how many published datasets are on time, due and
/// stale, and the late ones, most overdue first.
pub async fn dashboard(State(state): State<EdgeState>) -> Result<Response, PageError> {
    let Some(rows) = rows(&state, None).await else {
        let page = Dashboard {
            layout: Layout::new(&state, ""),
            tallies: Vec::new(),
            late: Vec::new(),
            total: Tally::default(),
            dataset: state.settings.freshness_dataset_id.clone(),
            unavailable: true,
        };
        return Ok(render(StatusCode::SERVICE_UNAVAILABLE, &page));
    };
    let names = agency_names(&state).await;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::default();
    for row in &rows {
        let name = agency_name(&names, &row.agency);
        tallies
            .entry(name.clone())
            .or_insert_with(|| Tally {
                agency: name,
                agency_id: row.agency.clone(),
                ..Tally::default()
            })
            .add(row);
        total.add(row);
    }
    let late = rows
        .into_iter()
        .filter(FreshRow::late)
        .map(|row| FreshRow {
            agency: agency_name(&names, &row.agency),
            ..row
        })
        .collect();
    let page = Dashboard {
        layout: Layout::new(&state, ""),
        tallies: tallies.into_values().collect(),
        late,
        total,
        dataset: state.settings.freshness_dataset_id.clone(),
        unavailable: false,
    };
    Ok(render(StatusCode::OK, &page))
}
