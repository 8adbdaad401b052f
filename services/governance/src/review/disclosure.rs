//! What anyone may know of the inventory (Executive Order 39 makes it public): how many records
//! are in each state, on which grounds the withheld ones are withheld, and the withheld datasets
//! themselves with their ground and explanation, which `/data.json` discloses anyway. No other
//! dataset is named: titles of datasets not yet decided stay with the ADOs and the CDO.

use opendata_limits::{TEXT_NAME, WITHHELD_LISTED};

use super::Review;
use super::state::{Ground, ReviewState};
use super::store::{self, WithheldDataset};
use crate::error::{GovernanceError, within};

/// The public summary of one agency's inventory, or of every agency's.
pub struct Summary {
    /// Records in each state that has any, in workflow order.
    pub states: Vec<(ReviewState, i64)>,
    /// Withheld records by ground, for the grounds that have any.
    pub grounds: Vec<(Ground, i64)>,
    /// The withheld datasets, by agency name and title, at most [`WITHHELD_LISTED`].
    pub withheld: Vec<WithheldDataset>,
}

impl Review {
    /// The public summary of one agency's inventory (every agency's when `agency_id` is empty).
    /// Open to anyone.
    pub async fn summarize(&self, agency_id: &str) -> Result<Summary, GovernanceError> {
        let agency_id = within("agency_id", agency_id, TEXT_NAME)?;
        let agency_id = (!agency_id.is_empty()).then_some(agency_id);
        let mut states: Vec<(ReviewState, i64)> = Vec::new();
        let mut grounds = Vec::new();
        for (state, ground, count) in store::summary(&self.pool, agency_id).await? {
            let Some(state) = ReviewState::parse(&state) else {
                continue;
            };
            match states.iter_mut().find(|(known, _)| *known == state) {
                Some((_, total)) => *total += count,
                None => states.push((state, count)),
            }
            if let Some(ground) = Ground::parse(&ground) {
                grounds.push((ground, count));
            }
        }
        states.sort_by_key(|(state, _)| ReviewState::ALL.iter().position(|s| s == state));
        let withheld = store::withheld(&self.pool, agency_id, WITHHELD_LISTED.get()).await?;
        Ok(Summary {
            states,
            grounds,
            withheld,
        })
    }
}
