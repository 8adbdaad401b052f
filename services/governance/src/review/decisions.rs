//! A dataset's public decisions, for the changelog of `/api/views/{id}.json` (Executive Order 39
//! makes them public): when it was published, withheld (the legal ground and the explanation,
//! which `/data.json` discloses as its rights), reopened for review, and retired (why, and its
//! successor, when that one is public now), read from the audit log. Open to anyone for a dataset
//! the public may see now; its agency's roles, the CDO and the panel may read any record's.
//! Nominations, reviews and approvals stay with the inventory.

use chrono::{DateTime, Utc};
use opendata_limits::TEXT_NAME;
use opendata_platform::auth::Principal;
use opendata_platform::authz::Action;

use super::Review;
use super::state::{Ground, ReviewState, Step};
use super::store;
use crate::audit;
use crate::error::{GovernanceError, required};

/// The steps whose decisions are public.
const PUBLIC_STEPS: [Step; 4] = [Step::Publish, Step::Withhold, Step::Reopen, Step::Retire];
/// Decisions listed at most, newest first.
const MOST: i64 = 100;

/// One public decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The state it put the dataset in (published, withheld, under review again, retired).
    pub state: ReviewState,
    /// When.
    pub at: DateTime<Utc>,
    /// The explanation of a withholding, the reason of a retirement; empty otherwise.
    pub reason: String,
    /// The legal ground of a withholding.
    pub ground: Option<Ground>,
    /// The successor named by a retirement.
    pub successor_dataset_id: String,
}

impl Review {
    /// The public decisions about a dataset, newest first (at most 100).
    pub async fn decisions(
        &self,
        caller: Option<&Principal>,
        dataset_id: &str,
    ) -> Result<Vec<Decision>, GovernanceError> {
        let dataset_id = required("dataset_id", dataset_id, TEXT_NAME)?;
        store::fetch(&self.pool, dataset_id, false)
            .await?
            .filter(|record| {
                !record.deleted
                    && (record.public
                        || caller.is_some_and(|caller| {
                            caller.may(Action::ReadInventory, Some(&record.agency_id))
                        }))
            })
            .ok_or_else(|| GovernanceError::DatasetNotFound(dataset_id.to_owned()))?;
        let actions = PUBLIC_STEPS.map(|step| format!("dataset.{}", step.as_str()));
        let entries =
            audit::about(&self.pool, &format!("dataset:{dataset_id}"), &actions, MOST).await?;
        let mut decisions: Vec<Decision> = entries
            .into_iter()
            .filter_map(|entry| {
                let step = PUBLIC_STEPS
                    .into_iter()
                    .find(|step| entry.action == format!("dataset.{}", step.as_str()))?;
                let state = match step {
                    Step::Publish => ReviewState::Published,
                    Step::Withhold => ReviewState::Withheld,
                    Step::Retire => ReviewState::Retired,
                    _ => ReviewState::UnderReview,
                };
                let detail = |key: &str| {
                    entry
                        .details
                        .get(key)
                        .and_then(|value| value.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                Some(Decision {
                    state,
                    at: entry.at,
                    // A publication's reason is the CDO's note to the agency, not the public's.
                    reason: match step {
                        Step::Withhold | Step::Retire => entry.reason,
                        _ => String::new(),
                    },
                    ground: Ground::parse(&detail("ground")),
                    successor_dataset_id: detail("successor_dataset_id"),
                })
            })
            .collect();
        // A successor is named only while the public may see it.
        for decision in &mut decisions {
            if decision.successor_dataset_id.is_empty() {
                continue;
            }
            let public = store::fetch(&self.pool, &decision.successor_dataset_id, false)
                .await?
                .is_some_and(|successor| !successor.deleted && successor.public);
            if !public {
                decision.successor_dataset_id.clear();
            }
        }
        Ok(decisions)
    }
}
