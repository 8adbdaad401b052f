//! `/staff/inventory.csv` and `.json`: the annual inventory and access plan of what the signed-in
//! member may read (their agency's, or every agency's for the CDO and the panel), the same file
//! `/api/admin/inventory/{agency}.csv` gives an API key.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::{readable_inventory, signed_in};
use crate::admin::{PlanFormat, plan_download};
use crate::pages::PageError;
use crate::state::EdgeState;

/// `GET /staff/inventory.csv`.
pub async fn csv(
    State(state): State<EdgeState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    plan(&state, &headers, PlanFormat::Csv).await
}

/// `GET /staff/inventory.json`.
pub async fn json(
    State(state): State<EdgeState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    plan(&state, &headers, PlanFormat::Json).await
}

async fn plan(
    state: &EdgeState,
    headers: &HeaderMap,
    format: PlanFormat,
) -> Result<Response, PageError> {
    let Some(staff) = signed_in(state, headers).await? else {
        return Ok(Redirect::to("/staff").into_response());
    };
    let records = readable_inventory(state, &staff).await?;
    let agency_id = staff.inventory_agency();
    let stem = if agency_id.is_empty() {
        "all-agencies"
    } else {
        &agency_id
    };
    plan_download(&records, stem, format).map_err(|error| PageError::from_api(state, error))
}
