//! `/transparency`: what the portal does not publish and why. Every withheld inventory entry
//! (the datasets `/data.json` discloses as non-public or restricted), with its agency, its
//! Executive Order 39 ground, its access level and the written explanation, from governance's
//! public inventory summary; how publishing and withholding are decided; and the retired datasets
//! with their successors, from governance's public retired-datasets dataset.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use opendata_limits::PAGE_TABLE_BYTES;
use opendata_proto::common::v1::AccessLevel;
use opendata_proto::governance::v1 as pb;
use serde_json::Value;

use super::labels::ground_label;
use super::{Layout, PageError, agency_name, agency_names, public_rows, query_string, render};
use crate::dcat::access_level;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

/// One withheld dataset.
pub struct Withheld {
    pub(super) title: String,
    pub(super) agency: String,
    pub(super) ground: &'static str,
    pub(super) access: &'static str,
    pub(super) why: String,
    /// When it was withheld (a date).
    pub(super) since: String,
}

/// The withheld datasets of an inventory summary, as pages show them.
pub struct WithheldList {
    /// Those the summary names, by agency and title.
    pub entries: Vec<Withheld>,
    /// How many more it counts (past limit `withheld_listed`).
    pub more: i64,
}

impl WithheldList {
    /// The list of `summary`, agencies named from `agencies`.
    pub fn of(summary: &pb::InventorySummary, agencies: &[(String, String)]) -> WithheldList {
        let counted: i64 = summary.grounds.iter().map(|ground| ground.count).sum();
        let entries: Vec<Withheld> = summary
            .withheld
            .iter()
            .map(|entry| Withheld {
                title: entry.title.clone(),
                agency: agency_name(agencies, &entry.agency_id),
                ground: ground_label(entry.ground()),
                access: access_level(
                    AccessLevel::try_from(entry.access_level).unwrap_or(AccessLevel::NonPublic),
                ),
                why: entry.explanation.clone(),
                since: entry
                    .withheld_at
                    .as_ref()
                    .and_then(|at| chrono::DateTime::from_timestamp(at.seconds, 0))
                    .map(|at| at.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            })
            .collect();
        WithheldList {
            more: (counted - entries.len() as i64).max(0),
            entries,
        }
    }
}

/// Governance's public summary of one agency's inventory (every agency's for `""`).
pub async fn inventory_summary(
    state: &EdgeState,
    agency_id: &str,
) -> Result<pb::InventorySummary, PageError> {
    Ok(state
        .public_review()
        .summarize_inventory(pb::SummarizeInventoryRequest {
            agency_id: agency_id.to_owned(),
        })
        .await
        .map_err(|status| PageError::from_api(state, status.into()))?
        .into_inner())
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct Transparency {
    layout: Layout,
    withheld: WithheldList,
    retired: Vec<Retired>,
}

/// One retired dataset, from governance's public retired-datasets dataset.
pub struct Retired {
    title: String,
    agency: String,
    retired: String,
    reason: String,
    /// The dataset that replaces it, when it is a dataset id.
    successor: Option<String>,
}

/// Retired datasets listed, most recent first.
const RETIRED_SHOWN: &str = "200";

/// The most recently retired datasets; none when the dataset is not kept or cannot be read.
async fn retired(state: &EdgeState) -> Vec<Retired> {
    let soql = query_string([("$order", "retired DESC"), ("$limit", RETIRED_SHOWN)]);
    let rows = public_rows(
        state,
        &state.settings.retired_dataset_id,
        None,
        &soql,
        PAGE_TABLE_BYTES.get(),
    )
    .await;
    let rows = match rows {
        Ok(Some(rows)) => rows,
        Ok(None) => Default::default(),
        Err(error) => {
            tracing::warn!(error = %error.0.message, "retired datasets unavailable for a page");
            Default::default()
        }
    };
    rows.iter()
        .map(|row| {
            let text = |field: &str| {
                row.get(field)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let successor = text("successor");
            Retired {
                title: text("title"),
                agency: text("agency"),
                retired: text("retired").chars().take(10).collect(),
                reason: text("reason"),
                successor: is_dataset_id(&successor).then_some(successor),
            }
        })
        .collect()
}

/// `GET /transparency`.
pub async fn page(State(state): State<EdgeState>) -> Result<Response, PageError> {
    let summary = inventory_summary(&state, "").await?;
    let agencies = agency_names(&state).await;
    let page = Transparency {
        layout: Layout::new(&state, ""),
        withheld: WithheldList::of(&summary, &agencies),
        retired: retired(&state).await,
    };
    Ok(render(StatusCode::OK, &page))
}
