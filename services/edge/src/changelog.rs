//! The changelog of `/api/views/{id}.json`, so a client sees a dataset's history in one call: its
//! versions (when, how, how many rows, by whom, and purges) from the catalog, and its public
//! governance decisions (published; withheld, on which legal ground and why; reopened; retired,
//! why and for which successor) from governance's audit log; newest first, at most the newest 100
//! of each (`/api/views/{id}/versions` lists every version). When governance cannot answer, the
//! changelog holds the versions alone and says so (`decisionsUnavailable`).

use axum::http::HeaderMap;
use opendata_platform::timestamp::iso_millis;
use opendata_proto::catalog::v1::ListVersionsRequest;
use opendata_proto::governance::v1::{ListDecisionsRequest, ReviewState, WithholdingGround};
use serde::Serialize;
use serde_json::Value;

use crate::error::SodaError;
use crate::state::EdgeState;

/// Entries of each kind listed at most.
const MOST: usize = 100;

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
        #[serde(skip_serializing_if = "String::is_empty")]
        committed_by: String,
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

impl Entry {
    fn at(&self) -> &Option<String> {
        match self {
            Entry::Version { at, .. } | Entry::Decision { at, .. } => at,
        }
    }
}

/// The changelog of dataset `id`, which the caller may see (the catalog said so).
pub async fn changelog(
    state: &EdgeState,
    headers: &HeaderMap,
    id: &str,
) -> Result<Value, SodaError> {
    let versions = state
        .catalog(headers, None)?
        .list_versions(ListVersionsRequest { id: id.to_owned() })
        .await?
        .into_inner()
        .versions;
    let mut entries: Vec<Entry> = versions
        .into_iter()
        .take(MOST)
        .map(|version| Entry::Version {
            at: iso_millis(version.activated_at.as_ref()),
            version: version.version,
            mode: version.mode,
            row_count: version.row_count,
            committed_by: version.committed_by_name,
            purged_at: iso_millis(version.purged_at.as_ref()),
        })
        .collect();
    let decisions = state
        .review_for(headers)?
        .list_decisions(ListDecisionsRequest {
            dataset_id: id.to_owned(),
        })
        .await;
    let unavailable = match decisions {
        Ok(decisions) => {
            entries.extend(
                decisions
                    .into_inner()
                    .decisions
                    .into_iter()
                    .map(|decision| Entry::Decision {
                        at: iso_millis(decision.at.as_ref()),
                        decision: match decision.state() {
                            ReviewState::Published => "published",
                            ReviewState::Withheld => "withheld",
                            ReviewState::Retired => "retired",
                            _ => "reopened",
                        },
                        ground: ground_name(decision.ground()),
                        reason: decision.reason,
                        successor: decision.successor_dataset_id,
                    }),
            );
            false
        }
        // A dataset governance does not list (or a governance that does not answer): the
        // versions alone.
        Err(status) => {
            if status.code() != tonic::Code::NotFound {
                tracing::warn!(dataset_id = id, code = ?status.code(), "changelog without decisions");
            }
            status.code() != tonic::Code::NotFound
        }
    };
    // The times are ISO 8601 in UTC, written alike: their text sorts as they do.
    entries.sort_by(|a, b| b.at().cmp(a.at()));
    let mut changelog = serde_json::json!({ "entries": entries });
    if unavailable {
        changelog["decisionsUnavailable"] = Value::Bool(true);
    }
    Ok(changelog)
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
