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

use super::withheld::{WithheldList, inventory_summary};
use super::{Layout, PageError, agency_names, public_rows, query_string, render, row_text};
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

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
            let text = |field: &str| row_text(row, field);
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
