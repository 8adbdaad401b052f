//! How pages name the governance states: workflow states, freshness statuses and the grounds of
//! Executive Order 39, as residents and staff read them.

use opendata_proto::governance::v1 as pb;

/// A workflow state as people read it.
pub fn state_label(state: pb::ReviewState) -> &'static str {
    match state {
        pb::ReviewState::Inventoried => "Inventoried",
        pb::ReviewState::Nominated => "Nominated",
        pb::ReviewState::UnderReview => "Under review",
        pb::ReviewState::Approved => "Approved",
        pb::ReviewState::Published => "Published",
        pb::ReviewState::Withheld => "Withheld",
        pb::ReviewState::Retired => "Retired",
        pb::ReviewState::Unspecified => "Unknown",
    }
}

/// A freshness status as people read it.
pub fn freshness_label(status: pb::FreshnessStatus) -> &'static str {
    match status {
        pb::FreshnessStatus::Current => "On time",
        pb::FreshnessStatus::Due => "Update due",
        pb::FreshnessStatus::Stale => "Stale",
        pb::FreshnessStatus::NotScheduled => "Not scheduled",
        pb::FreshnessStatus::Unspecified => "",
    }
}

/// When the next update of a dataset is due (`March 4, 2026`); empty without a schedule.
pub fn due_date(freshness: &pb::Freshness) -> String {
    freshness
        .due_at
        .as_ref()
        .map(|due| super::long_date(Some(due)))
        .unwrap_or_default()
}

/// A withholding ground as residents read it.
pub fn ground_label(ground: pb::WithholdingGround) -> &'static str {
    match ground {
        pb::WithholdingGround::ViolatesLaw => "Publishing would violate state or federal law",
        pb::WithholdingGround::EndangersPublic => {
            "Publishing would endanger public health, safety or welfare"
        }
        pb::WithholdingGround::HindersGovernment => {
            "Publishing would hinder the operation of government"
        }
        pb::WithholdingGround::UndueBurden => {
            "Publishing would impose an undue burden on the agency"
        }
        pb::WithholdingGround::Unspecified => "No ground given",
    }
}
