//! The changelog of `/api/views/{id}.json`, so a client sees a dataset's history in one call: its
//! versions (when, how, how many rows, by whom, and purges) from the catalog, and its public
//! governance decisions (published; withheld, on which legal ground and why; reopened; retired,
//! why and for which public successor) from governance's audit log; newest first. Each source
//! gives its newest 100 at most, and the merged list stops where the shorter reach ends, so it
//! never shows decisions with versions missing between them (`/api/views/{id}/versions` lists
//! every version). Both are asked at once, each for at most two seconds; one that does not
//! answer leaves its entries out and says so (`versionsUnavailable`, `decisionsUnavailable`):
//! the view itself never fails for its changelog.

use std::time::Duration;

use axum::http::HeaderMap;
use opendata_platform::timestamp::iso_millis;
use opendata_proto::catalog::v1::{DatasetVersion, ListVersionsRequest};
use opendata_proto::governance::v1::{
    Decision, ListDecisionsRequest, ReviewState, WithholdingGround,
};
use serde::Serialize;
use serde_json::Value;

use crate::error::SodaError;
use crate::state::EdgeState;

/// Entries of each source asked for at most.
const MOST: u32 = 100;
/// How long each source may take.
const WAIT: Duration = Duration::from_secs(2);

/// One entry.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Entry {
    /// A committed version.
    #[serde(rename_all = "camelCase")]
    Version {
        at: Option<String>,
        version: i64,
        mode: String,
        row_count: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        committed_by: Option<Committer>,
        #[serde(skip_serializing_if = "Option::is_none")]
        purged_at: Option<String>,
    },
    /// A governance decision.
    #[serde(rename_all = "camelCase")]
    Decision {
        at: Option<String>,
        decision: &'static str,
        #[serde(skip_serializing_if = "String::is_empty")]
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        ground: Option<&'static str>,
        #[serde(skip_serializing_if = "String::is_empty")]
        successor: String,
    },
}

/// Who committed a version, as `/api/views/{id}/versions` names them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Committer {
    id: String,
    display_name: String,
}

impl Entry {
    fn at(&self) -> &Option<String> {
        match self {
            Entry::Version { at, .. } | Entry::Decision { at, .. } => at,
        }
    }

    fn version(version: DatasetVersion) -> Entry {
        Entry::Version {
            // When it became current; when it was committed, for versions never made current.
            at: iso_millis(
                version
                    .activated_at
                    .as_ref()
                    .or(version.committed_at.as_ref()),
            ),
            version: version.version,
            mode: version.mode,
            row_count: version.row_count,
            committed_by: (!version.committed_by_id.is_empty()).then_some(Committer {
                id: version.committed_by_id,
                display_name: version.committed_by_name,
            }),
            purged_at: iso_millis(version.purged_at.as_ref()),
        }
    }

    /// A decision; `None` for a state this edge does not know.
    fn decision(decision: Decision) -> Option<Entry> {
        let kind = match decision.state() {
            ReviewState::Published => "published",
            ReviewState::Withheld => "withheld",
            ReviewState::UnderReview => "reopened",
            ReviewState::Retired => "retired",
            _ => return None,
        };
        Some(Entry::Decision {
            at: iso_millis(decision.at.as_ref()),
            decision: kind,
            ground: ground_name(decision.ground()),
            reason: decision.reason,
            successor: decision.successor_dataset_id,
        })
    }
}

/// The changelog of dataset `id`, which the caller may see (the catalog said so).
pub async fn changelog(
    state: &EdgeState,
    headers: &HeaderMap,
    id: &str,
) -> Result<Value, SodaError> {
    let mut catalog = state.catalog(headers, None)?;
    let mut review = state.review_for(headers)?;
    let versions = tokio::time::timeout(
        WAIT,
        catalog.list_versions(ListVersionsRequest {
            id: id.to_owned(),
            limit: Some(MOST),
            without_schemas: true,
        }),
    );
    let decisions = tokio::time::timeout(
        WAIT,
        review.list_decisions(ListDecisionsRequest {
            dataset_id: id.to_owned(),
        }),
    );
    let (versions, decisions) = tokio::join!(versions, decisions);
    let versions = match versions {
        Ok(Ok(versions)) => Some(versions.into_inner().versions),
        _ => None,
    };
    let decisions = match decisions {
        Ok(Ok(decisions)) => Some(decisions.into_inner().decisions),
        // Governance lists no decisions for a dataset it does not show the caller.
        Ok(Err(status)) if status.code() == tonic::Code::NotFound => Some(Vec::new()),
        _ => None,
    };
    let mut changelog = serde_json::Map::new();
    for (name, missing) in [
        ("versionsUnavailable", versions.is_none()),
        ("decisionsUnavailable", decisions.is_none()),
    ] {
        if missing {
            tracing::debug!(dataset_id = id, name, "changelog source did not answer");
            changelog.insert(name.to_owned(), Value::Bool(true));
        }
    }
    let versions: Vec<Entry> = versions
        .unwrap_or_default()
        .into_iter()
        .map(Entry::version)
        .collect();
    let decisions: Vec<Entry> = decisions
        .unwrap_or_default()
        .into_iter()
        .filter_map(Entry::decision)
        .collect();
    changelog.insert(
        "entries".to_owned(),
        serde_json::to_value(merged(versions, decisions)).unwrap_or_default(),
    );
    Ok(Value::Object(changelog))
}

/// Both lists, newest first, cut where the shorter reach ends: a list that filled its 100 may
/// have older entries the other list's older ones would sit between.
fn merged(versions: Vec<Entry>, decisions: Vec<Entry>) -> Vec<Entry> {
    let reach = |entries: &[Entry]| {
        (entries.len() >= MOST as usize)
            .then(|| entries.iter().filter_map(|e| e.at().clone()).min())
            .flatten()
    };
    let cut = reach(&versions).max(reach(&decisions));
    // The times are ISO 8601 in UTC, written alike: their text sorts as they do.
    let mut entries: Vec<Entry> = versions.into_iter().chain(decisions).collect();
    entries.sort_by(|a, b| b.at().cmp(a.at()));
    if let Some(cut) = cut {
        entries.retain(|entry| entry.at().as_ref().is_some_and(|at| *at >= cut));
    }
    entries
}

fn ground_name(ground: WithholdingGround) -> Option<&'static str> {
    match ground {
        WithholdingGround::ViolatesLaw => Some("violates_law"),
        WithholdingGround::EndangersPublic => Some("endangers_public"),
        WithholdingGround::HindersGovernment => Some("hinders_government"),
        WithholdingGround::UndueBurden => Some("undue_burden"),
        WithholdingGround::Unspecified => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(at: &str) -> Entry {
        Entry::Version {
            at: Some(at.to_owned()),
            version: 1,
            mode: "replace".to_owned(),
            row_count: 1,
            committed_by: None,
            purged_at: None,
        }
    }

    fn decision(at: &str) -> Entry {
        Entry::Decision {
            at: Some(at.to_owned()),
            decision: "published",
            reason: String::new(),
            ground: None,
            successor: String::new(),
        }
    }

    #[test]
    fn the_merged_list_is_newest_first_and_stops_where_a_full_list_stops() {
        let merged_at = |versions: Vec<Entry>, decisions: Vec<Entry>| -> Vec<String> {
            merged(versions, decisions)
                .iter()
                .map(|e| e.at().clone().unwrap())
                .collect()
        };
        assert_eq!(
            merged_at(
                vec![version("2026-02"), version("2026-01")],
                vec![decision("2025-12")]
            ),
            ["2026-02", "2026-01", "2025-12"]
        );
        // A hundred versions since March: an older decision would hide the versions before it.
        let full: Vec<Entry> = (0..MOST).map(|_| version("2026-03")).collect();
        let cut = merged_at(full, vec![decision("2026-04"), decision("2026-01")]);
        assert_eq!(cut.len(), MOST as usize + 1);
        assert_eq!(cut[0], "2026-04");
    }
}
