//! Ingestion's domain errors and their public codes.

use opendata_datastore::csv_stream::CsvError;
use opendata_datastore::schema::SchemaError;
use opendata_platform::error::{ApiError, ErrorCode, internal};

use crate::model::UploadState;

/// What can go wrong in ingestion.
#[derive(Debug, thiserror::Error)]
pub enum IngestionError {
    /// A request field is missing or malformed.
    #[error("{message}")]
    Invalid {
        /// The offending field.
        field: String,
        /// What is wrong with it.
        message: String,
        /// The limit it goes past, when that is what is wrong.
        limit: Option<&'static str>,
    },
    /// No upload has this id (or the caller may not see it).
    #[error("upload {0} does not exist")]
    UploadNotFound(String),
    /// The upload is not in a state that allows the action.
    #[error("upload is {state}: {action} needs it to be {expected}")]
    WrongState {
        /// Current state.
        state: UploadState,
        /// What was attempted.
        action: &'static str,
        /// The states that allow it.
        expected: &'static str,
    },
    /// The upload was abandoned or expired while its file was being received.
    #[error("the upload was closed (abandoned or expired) while its file was being received")]
    Closed,
    /// The file is not usable CSV.
    #[error("{0}")]
    Malformed(#[from] CsvError),
    /// The header does not match the schema.
    #[error("{0}")]
    SchemaMismatch(String),
    /// Too many rows were rejected; nothing was committed.
    #[error(
        "{rejected} of {received} rows were rejected ({share:.2}%), more than the upload allows ({allowed:.2}%); nothing was committed"
    )]
    TooManyRejected {
        /// Rejected rows.
        rejected: u64,
        /// Data rows read.
        received: u64,
        /// Rejected share, in percent.
        share: f64,
        /// Allowed share, in percent.
        allowed: f64,
    },
    /// A replace upload without data rows would empty the dataset, and the upload did not say
    /// that was meant.
    #[error(
        "the upload has no rows to load (the file has no data rows, or every row was rejected) and replacing the dataset with it would empty it, so nothing was committed; to empty the dataset on purpose, create the upload with allow_empty (`opendata push --allow-empty`)"
    )]
    EmptyReplacement,
    /// Another version was committed since the upload began.
    #[error(
        "version {current} was committed since this upload began from version {base}; upload again"
    )]
    VersionConflict {
        /// The version the upload was based on.
        base: i64,
        /// The version now current.
        current: i64,
    },
    /// The row identifier has duplicate values.
    #[error(
        "the row identifier `{column}` must be unique, but {examples} appear more than once; nothing was committed"
    )]
    DuplicateRowIdentifier {
        /// The row identifier column.
        column: String,
        /// Some duplicated values.
        examples: String,
    },
    /// The caller may not do this, or a dependency refused.
    #[error(transparent)]
    Api(ApiError),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl IngestionError {
    /// A malformed-field error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        IngestionError::Invalid {
            field: field.into(),
            message: message.into(),
            limit: None,
        }
    }

    /// A schema the caller sent that is not acceptable.
    pub fn schema(error: SchemaError) -> Self {
        IngestionError::Invalid {
            field: format!("schema.{}", error.field),
            message: error.message,
            limit: error.limit,
        }
    }
}

impl From<ApiError> for IngestionError {
    fn from(error: ApiError) -> Self {
        IngestionError::Api(error)
    }
}

impl From<IngestionError> for ApiError {
    fn from(error: IngestionError) -> ApiError {
        let message = error.to_string();
        match error {
            IngestionError::Invalid {
                field,
                message,
                limit,
            } => ApiError::invalid_field(&field, message).with_limit(limit),
            IngestionError::UploadNotFound(id) => {
                ApiError::new(ErrorCode::UploadNotFound, message).with("upload_id", id)
            }
            IngestionError::WrongState { state, .. } => {
                ApiError::new(ErrorCode::UploadStateConflict, message).with("state", state.as_str())
            }
            IngestionError::Closed => ApiError::new(ErrorCode::UploadStateConflict, message),
            IngestionError::Malformed(csv) => {
                let error =
                    ApiError::new(ErrorCode::MalformedFile, message).with_limit(csv.limit());
                match csv.line() {
                    Some(line) => error.with("line", line),
                    None => error,
                }
            }
            IngestionError::SchemaMismatch(_) => ApiError::new(ErrorCode::SchemaMismatch, message),
            IngestionError::TooManyRejected {
                rejected, received, ..
            } => ApiError::new(ErrorCode::TooManyRejectedRows, message)
                .with("rows_rejected", rejected)
                .with("rows_received", received),
            IngestionError::EmptyReplacement => ApiError::new(ErrorCode::EmptyReplacement, message),
            IngestionError::VersionConflict { current, .. } => {
                ApiError::new(ErrorCode::VersionConflict, message).with("current_version", current)
            }
            IngestionError::DuplicateRowIdentifier { column, .. } => {
                ApiError::new(ErrorCode::InvalidArgument, message).with("column", column)
            }
            IngestionError::Api(error) => error,
            IngestionError::Database(sqlx::Error::PoolTimedOut) => ApiError::new(
                ErrorCode::Unavailable,
                "too many uploads are loading at once; retry in a moment",
            ),
            IngestionError::Database(error) => internal(&error),
        }
    }
}

impl From<IngestionError> for tonic::Status {
    fn from(error: IngestionError) -> tonic::Status {
        ApiError::from(error).into_status()
    }
}
