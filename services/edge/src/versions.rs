//! `GET /api/views/{id}/versions`: a dataset's version history, newest first: each committed
//! version with who committed it, when, when its data was current, how (replace, append or
//! upsert), its rows and its columns, whether its rows can still be read (`$version=N`), and, for
//! a purged version, when, by whom and why. What anyone may see of the dataset they may see of
//! its history; a dataset hidden from the caller is not found.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use opendata_platform::timestamp::iso_millis;
use opendata_proto::catalog::v1::{DatasetVersion, ListVersionsRequest};
use serde::Serialize;

use crate::error::SodaError;
use crate::resource::is_dataset_id;
use crate::state::EdgeState;

/// The history.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct History {
    id: String,
    versions: Vec<Version>,
}

/// One version.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    version: i64,
    /// Whether readers see this version now.
    current: bool,
    /// Whether its rows can still be read, with `$version`.
    kept: bool,
    committed_at: Option<String>,
    activated_at: Option<String>,
    data_as_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    committed_by: Option<Committer>,
    mode: String,
    row_count: i64,
    /// What its commit changed (zeros for versions recorded before).
    rows_created: i64,
    rows_updated: i64,
    rows_deleted: i64,
    columns: Vec<Column>,
    /// Set when the version was purged: its rows are gone whatever the retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    purged: Option<Purge>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Purge {
    at: Option<String>,
    by: String,
    reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Committer {
    id: String,
    display_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Column {
    field_name: String,
    name: String,
    data_type_name: &'static str,
}

fn version_of(version: DatasetVersion, current: bool) -> Version {
    let schema = version.schema.unwrap_or_default();
    Version {
        version: version.version,
        current,
        kept: version.kept,
        committed_at: iso_millis(version.committed_at.as_ref()),
        activated_at: iso_millis(version.activated_at.as_ref()),
        data_as_of: iso_millis(version.data_as_of.as_ref()),
        committed_by: (!version.committed_by_id.is_empty()).then_some(Committer {
            id: version.committed_by_id,
            display_name: version.committed_by_name,
        }),
        purged: version.purged_at.is_some().then(|| Purge {
            at: iso_millis(version.purged_at.as_ref()),
            by: version.purged_by_name,
            reason: version.purge_reason,
        }),
        mode: version.mode,
        row_count: version.row_count,
        rows_created: version.rows_created,
        rows_updated: version.rows_updated,
        rows_deleted: version.rows_deleted,
        columns: schema
            .columns
            .into_iter()
            .map(|column| Column {
                data_type_name: column.r#type().data_type_name(),
                field_name: column.field_name,
                name: column.display_name,
            })
            .collect(),
    }
}

/// The handler.
pub async fn versions(
    State(state): State<EdgeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, SodaError> {
    if !is_dataset_id(&id) {
        return Err(SodaError::dataset_not_found(&id));
    }
    let versions = state
        .catalog(&headers, None)?
        .list_versions(ListVersionsRequest {
            id: id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .versions;
    let history = History {
        id,
        versions: versions
            .into_iter()
            .enumerate()
            .map(|(index, version)| version_of(version, index == 0))
            .collect(),
    };
    Ok(Json(serde_json::to_value(history).unwrap_or_default()))
}
