//! Inventory records as the admin routes show them (JSON, camelCase) and as the annual inventory
//! and access plan exports them (CSV and JSON rows).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use opendata_platform::error::internal;
use opendata_platform::timestamp::from_proto;
use opendata_proto::governance::v1 as pb;
use serde::Serialize;

use crate::error::SodaError;
use crate::json::SodaJson;
use crate::spreadsheet::inert;

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
            access_level: record.access_level().dcat_name(),
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
            access_level: record.access_level().dcat_name(),
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
fn plan_csv(records: &[pb::InventoryRecord]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        let mut row = PlanRow::from(record);
        row.title = inert(&row.title);
        row.category = inert(&row.category);
        row.rights = inert(&row.rights);
        writer.serialize(row)?;
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

/// The file formats of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    /// CSV with a header row.
    Csv,
    /// A JSON array of rows.
    Json,
}

impl PlanFormat {
    /// The format of a file extension (`csv`, `json`).
    pub fn parse(extension: &str) -> Option<PlanFormat> {
        match extension {
            "csv" => Some(PlanFormat::Csv),
            "json" => Some(PlanFormat::Json),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            PlanFormat::Csv => "csv",
            PlanFormat::Json => "json",
        }
    }
}

/// Characters of an agency id a download's name keeps.
const FILE_STEM_CHARS: usize = 64;

/// The plan of `records` as a download named `{stem}-inventory.{format}`.
pub fn plan_download(
    records: &[pb::InventoryRecord],
    stem: &str,
    format: PlanFormat,
) -> Result<Response, SodaError> {
    let mut response = match format {
        PlanFormat::Csv => {
            let body = plan_csv(records).map_err(|e| SodaError(internal(&e)))?;
            let mut response = body.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            response
        }
        PlanFormat::Json => {
            SodaJson(records.iter().map(PlanRow::from).collect::<Vec<_>>()).into_response()
        }
    };
    // The stem is an agency id as the caller wrote it: only its plain characters name the file.
    let stem: String = stem
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(FILE_STEM_CHARS)
        .collect();
    let attachment = format!(
        "attachment; filename=\"{stem}-inventory.{}\"",
        format.extension()
    );
    if let Ok(value) = HeaderValue::from_str(&attachment) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendata_proto::common::v1::AccessLevel;

    #[test]
    fn downloads_are_named_by_the_plain_characters_of_the_agency() {
        let named = |stem: &str, format: PlanFormat| {
            let response = plan_download(&[], stem, format).expect("a download");
            response.headers()[header::CONTENT_DISPOSITION]
                .to_str()
                .expect("ascii")
                .to_owned()
        };
        assert_eq!(
            named("opm", PlanFormat::Csv),
            "attachment; filename=\"opm-inventory.csv\""
        );
        assert_eq!(
            named("a\"; filename*=x", PlanFormat::Json),
            "attachment; filename=\"afilenamex-inventory.json\""
        );
        assert_eq!(PlanFormat::parse("xlsx"), None);
    }

    #[test]
    fn spreadsheets_show_formulas_as_text() {
        let record = pb::InventoryRecord {
            dataset_id: "abcd-1234".into(),
            title: "=HYPERLINK(\"http://evil.example\")".into(),
            category: "+1".into(),
            rights: "@SUM(A1)".into(),
            ..Default::default()
        };
        let csv = String::from_utf8(plan_csv(&[record]).unwrap()).unwrap();
        let row = csv.lines().nth(1).unwrap();
        assert!(
            row.starts_with("abcd-1234,\"'=HYPERLINK(\"\"http://evil.example\"\")\",,'+1,"),
            "{row}"
        );
        assert!(row.contains(",'@SUM(A1),"), "{row}");
    }

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
