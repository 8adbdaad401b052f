//! Uploads: their modes, their states and the transitions between them.

use chrono::{DateTime, Utc};
use opendata_datastore::schema::{Column, ColumnType, Schema};
use uuid::Uuid;

/// How an upload combines with the current rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// The file becomes the dataset.
    Replace,
    /// The file's rows are added.
    Append,
    /// Rows are matched on the row identifier: updated when present, inserted otherwise.
    Upsert,
}

impl UploadMode {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadMode::Replace => "replace",
            UploadMode::Append => "append",
            UploadMode::Upsert => "upsert",
        }
    }

    /// From the stored spelling.
    pub fn parse(text: &str) -> Option<UploadMode> {
        match text {
            "replace" => Some(UploadMode::Replace),
            "append" => Some(UploadMode::Append),
            "upsert" => Some(UploadMode::Upsert),
            _ => None,
        }
    }
}

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Waiting for the file.
    Created,
    /// Receiving the file.
    Receiving,
    /// Staged; waiting for the inferred schema to be accepted.
    AwaitingSchema,
    /// Loaded; ready to commit.
    Loaded,
    /// Committed as a version.
    Committed,
    /// Failed; nothing committed.
    Failed,
    /// Abandoned or expired; nothing committed.
    Abandoned,
}

impl UploadState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Created => "created",
            UploadState::Receiving => "receiving",
            UploadState::AwaitingSchema => "awaiting_schema",
            UploadState::Loaded => "loaded",
            UploadState::Committed => "committed",
            UploadState::Failed => "failed",
            UploadState::Abandoned => "abandoned",
        }
    }

    /// From the stored spelling.
    pub fn parse(text: &str) -> UploadState {
        match text {
            "created" => UploadState::Created,
            "receiving" => UploadState::Receiving,
            "awaiting_schema" => UploadState::AwaitingSchema,
            "loaded" => UploadState::Loaded,
            "committed" => UploadState::Committed,
            "abandoned" => UploadState::Abandoned,
            _ => UploadState::Failed,
        }
    }

    /// Whether the upload can still change.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            UploadState::Created
                | UploadState::Receiving
                | UploadState::AwaitingSchema
                | UploadState::Loaded
        )
    }
}

impl std::fmt::Display for UploadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An upload and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: Uuid,
    /// Target dataset.
    pub dataset_id: String,
    /// Agency owning the dataset.
    pub agency_id: String,
    pub mode: UploadMode,
    pub state: UploadState,
    /// Largest rejected share allowed.
    pub max_rejected_fraction: f64,
    /// Whether the schema is inferred from the file.
    pub infer_schema: bool,
    /// The schema rows are loaded with (unset while awaiting inference).
    pub schema: Option<Schema>,
    pub inferred_schema: Option<Schema>,
    /// Field names of the file's columns, in file order.
    pub file_columns: Vec<String>,
    /// Version current when the upload began.
    pub base_version: i64,
    /// Version it became.
    pub version: Option<i64>,
    /// Working table in the `data` schema.
    pub working_table: String,
    /// Data rows read.
    pub rows_received: i64,
    pub rows_loaded: i64,
    pub rows_rejected: i64,
    /// Bytes read.
    pub bytes_received: i64,
    /// Load time.
    pub load_millis: i64,
    /// Index build time.
    pub index_millis: i64,
    /// Why it failed.
    pub error: String,
    /// Creator.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub committed_at: Option<DateTime<Utc>>,
    /// Whether the upload brings its own schema (given or inferred) rather than the dataset's.
    pub new_schema: bool,
    /// When the data was current, if the upload said.
    pub data_as_of: Option<DateTime<Utc>>,
    /// Whether a replace may commit without data rows.
    pub allow_empty: bool,
    /// What its commit changed (zero until committed).
    pub changes: RowChanges,
}

/// The column an upsert's file may have to delete rows: `:deleted`, true for a row whose
/// identifier names the row to delete (Socrata's write API).
pub const DELETED_COLUMN: &str = ":deleted";

impl Upload {
    /// The columns its file loads into: the schema's, and for an upsert `:deleted`.
    pub fn loading_schema(&self) -> Option<Schema> {
        let mut schema = self.schema.clone()?;
        if self.mode == UploadMode::Upsert {
            schema.columns.push(Column::new(
                DELETED_COLUMN,
                DELETED_COLUMN,
                ColumnType::Checkbox,
            ));
        }
        Some(schema)
    }

    /// Whether its file has the `:deleted` column.
    pub fn deletes(&self) -> bool {
        self.mode == UploadMode::Upsert && self.file_columns.iter().any(|c| c == DELETED_COLUMN)
    }
}

/// Rows a commit created, changed (values that differ) and deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowChanges {
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
}

impl Upload {
    /// Share of data rows rejected.
    pub fn rejected_fraction(&self) -> f64 {
        if self.rows_received == 0 {
            0.0
        } else {
            self.rows_rejected as f64 / self.rows_received as f64
        }
    }
}
