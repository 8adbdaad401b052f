//! Inventory records as the admin routes show them (JSON, camelCase) and as the annual inventory
//! and access plan exports them (CSV and JSON rows).

use chrono::SecondsFormat;
use opendata_platform::timestamp::from_proto;
use opendata_proto::common::v1::AccessLevel;
use opendata_proto::governance::v1 as pb;
use serde::Serialize;

/// The lowercase name of a protobuf enum value without its prefix (`REVIEW_STATE_UNDER_REVIEW`
/// is `under_review`).
fn name(value: &str, prefix: &str) -> String {
    value.trim_start_matches(prefix).to_ascii_lowercase()
}

fn iso(timestamp: Option<&prost_types::Timestamp>) -> Option<String> {
    timestamp
        .and_then(from_proto)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The state's name.
pub fn state_name(state: pb::ReviewState) -> String {
    name(state.as_str_name(), "REVIEW_STATE_")
}

fn access_level(level: i32) -> &'static str {
    match AccessLevel::try_from(level).unwrap_or_default() {
        AccessLevel::RestrictedPublic => "restricted public",
        AccessLevel::NonPublic => "non-public",
        AccessLevel::Public | AccessLevel::Unspecified => "public",
    }
}

fn ground(record: &pb::InventoryRecord) -> Option<String> {
    let ground = record.withholding_ground();
    (ground != pb::WithholdingGround::Unspecified)
        .then(|| name(ground.as_str_name(), "WITHHOLDING_GROUND_"))
}

/// Freshness as shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FreshnessJson {
    status: String,
    accrual_periodicity: String,
    last_updated_at: Option<String>,
    due_at: Option<String>,
}

impl From<&pb::Freshness> for FreshnessJson {
    fn from(freshness: &pb::Freshness) -> Self {
        FreshnessJson {
            status: name(freshness.status().as_str_name(), "FRESHNESS_STATUS_"),
            accrual_periodicity: freshness.accrual_periodicity.clone(),
            last_updated_at: iso(freshness.last_updated_at.as_ref()),
            due_at: iso(freshness.due_at.as_ref()),
        }
    }
}

/// A transition as shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TransitionJson {
    from: String,
    to: String,
    actor_id: String,
    reason: String,
    at: Option<String>,
}

/// A record as shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordJson {
    dataset_id: String,
    agency_id: String,
    title: String,
    category: String,
    state: String,
    public: bool,
    access_level: &'static str,
    rights: String,
    withholding_ground: Option<String>,
    justification: String,
    accrual_periodicity: String,
    successor_dataset_id: String,
    retired_at: Option<String>,
    revision: i64,
    freshness: Option<FreshnessJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    history: Vec<TransitionJson>,
}

impl From<&pb::InventoryRecord> for RecordJson {
    fn from(record: &pb::InventoryRecord) -> Self {
        RecordJson {
            dataset_id: record.dataset_id.clone(),
            agency_id: record.agency_id.clone(),
            title: record.title.clone(),
            category: record.category.clone(),
            state: state_name(record.state()),
            public: record.public,
            access_level: access_level(record.access_level),
            rights: record.rights.clone(),
            withholding_ground: ground(record),
            justification: record.justification.clone(),
            accrual_periodicity: record.accrual_periodicity.clone(),
            successor_dataset_id: record.successor_dataset_id.clone(),
            retired_at: iso(record.retired_at.as_ref()),
            revision: record.revision,
            freshness: record.freshness.as_ref().map(FreshnessJson::from),
            history: record
                .history
                .iter()
                .map(|t| TransitionJson {
                    from: state_name(t.from_state()),
                    to: state_name(t.to_state()),
                    actor_id: t.actor_id.clone(),
                    reason: t.reason.clone(),
                    at: iso(t.at.as_ref()),
                })
                .collect(),
        }
    }
}

/// One row of the annual inventory and access plan.
#[derive(Debug, Serialize)]
pub struct PlanRow {
    dataset_id: String,
    title: String,
    agency_id: String,
    category: String,
    status: String,
    public: bool,
    access_level: &'static str,
    rights: String,
    withholding_ground: String,
    accrual_periodicity: String,
    last_updated_at: String,
    due_at: String,
    freshness: String,
    retired_at: String,
    successor_dataset_id: String,
}

impl From<&pb::InventoryRecord> for PlanRow {
    fn from(record: &pb::InventoryRecord) -> Self {
        let freshness = record.freshness.clone().unwrap_or_default();
        PlanRow {
            dataset_id: record.dataset_id.clone(),
            title: record.title.clone(),
            agency_id: record.agency_id.clone(),
            category: record.category.clone(),
            status: state_name(record.state()),
            public: record.public,
            access_level: access_level(record.access_level),
            rights: record.rights.clone(),
            withholding_ground: ground(record).unwrap_or_default(),
            accrual_periodicity: record.accrual_periodicity.clone(),
            last_updated_at: iso(freshness.last_updated_at.as_ref()).unwrap_or_default(),
            due_at: iso(freshness.due_at.as_ref()).unwrap_or_default(),
            freshness: name(freshness.status().as_str_name(), "FRESHNESS_STATUS_"),
            retired_at: iso(record.retired_at.as_ref()).unwrap_or_default(),
            successor_dataset_id: record.successor_dataset_id.clone(),
        }
    }
}

/// The plan as CSV, with a header row.
pub fn plan_csv(records: &[pb::InventoryRecord]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer.serialize(PlanRow::from(record))?;
    }
    if records.is_empty() {
        // `serialize` writes the header with the first row; an empty plan still has one.
        writer.write_record([
            "dataset_id",
            "title",
            "agency_id",
            "category",
            "status",
            "public",
            "access_level",
            "rights",
            "withholding_ground",
            "accrual_periodicity",
            "last_updated_at",
            "due_at",
            "freshness",
            "retired_at",
            "successor_dataset_id",
        ])?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_have_a_header_even_when_empty() {
        let empty = String::from_utf8(plan_csv(&[]).unwrap()).unwrap();
        assert!(empty.starts_with("dataset_id,title,agency_id"), "{empty}");
        let record = pb::InventoryRecord {
            dataset_id: "abcd-1234".into(),
            agency_id: "opm".into(),
            title: "Grand List, 2024".into(),
            state: pb::ReviewState::Withheld as i32,
            withholding_ground: pb::WithholdingGround::ViolatesLaw as i32,
            access_level: AccessLevel::NonPublic as i32,
            ..Default::default()
        };
        let csv = String::from_utf8(plan_csv(&[record]).unwrap()).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), empty.lines().next());
        let row = lines.next().unwrap();
        assert!(
            row.starts_with(
                "abcd-1234,\"Grand List, 2024\",opm,,withheld,false,non-public,,violates_law"
            ),
            "{row}"
        );
    }
}
