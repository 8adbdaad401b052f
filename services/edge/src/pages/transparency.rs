//! `/transparency`: what the portal does not publish and why. Every withheld dataset the public
//! may know of (the same entries `/data.json` discloses as non-public or restricted), with its
//! agency, access level and the written explanation, and how publishing and withholding are
//! decided under Executive Order 39.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Layout, PageError, agency_names, render};
use crate::dcat::{access_level, public_catalog};
use crate::state::EdgeState;

/// One withheld dataset.
pub struct Withheld {
    title: String,
    agency: String,
    access: &'static str,
    why: String,
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct Transparency {
    layout: Layout,
    withheld: Vec<Withheld>,
}

/// `GET /transparency`.
pub async fn page(State(state): State<EdgeState>) -> Result<Response, PageError> {
    let datasets = public_catalog(&state)
        .await
        .map_err(|error| PageError::from_api(&state, error))?;
    let agencies = agency_names(&state).await;
    let mut withheld: Vec<Withheld> = datasets
        .into_iter()
        .filter(|dataset| dataset.withheld)
        .map(|dataset| {
            let metadata = dataset.metadata.unwrap_or_default();
            Withheld {
                agency: agencies
                    .iter()
                    .find(|(id, _)| *id == dataset.agency_id)
                    .map_or_else(|| dataset.agency_id.clone(), |(_, name)| name.clone()),
                access: access_level(metadata.access_level()),
                title: metadata.title,
                why: metadata.rights,
            }
        })
        .collect();
    withheld.sort_by(|a, b| (&a.agency, &a.title).cmp(&(&b.agency, &b.title)));
    let page = Transparency {
        layout: Layout::new(&state, ""),
        withheld,
    };
    Ok(render(StatusCode::OK, &page))
}
