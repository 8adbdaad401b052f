//! The incentives service's domain errors and their public codes.

use opendata_platform::error::{ApiError, ErrorCode, FieldViolation, internal};

/// What can go wrong recording or reading awards.
#[derive(Debug, thiserror::Error)]
pub enum IncentivesError {
    /// One or more request fields break the rules.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// No award has this id.
    #[error("award {0} does not exist")]
    AwardNotFound(String),
    /// The award changed since the revision the caller corrected.
    #[error(
        "award {id} is at revision {current}, not {expected}: read it again and redo the correction"
    )]
    RevisionConflict {
        /// The award.
        id: String,
        /// The revision the caller sent.
        expected: i64,
        /// The award's revision.
        current: i64,
    },
    /// The award is withdrawn.
    #[error("award {0} is withdrawn and takes no more changes")]
    Withdrawn(String),
    /// The caller may not do this.
    #[error(transparent)]
    Denied(#[from] ApiError),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The award dataset could not be pushed.
    #[error("publishing: {0}")]
    Publishing(String),
    /// Stored values could not be read back.
    #[error("stored award values are unreadable: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl IncentivesError {
    /// One offending request field.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        IncentivesError::Invalid(vec![FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        }])
    }
}

/// `value` trimmed, or an error naming `field` when it is empty.
pub fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, IncentivesError> {
    match value.trim() {
        "" => Err(IncentivesError::invalid(field, "is required")),
        value => Ok(value),
    }
}

impl From<IncentivesError> for ApiError {
    fn from(error: IncentivesError) -> ApiError {
        let message = error.to_string();
        match error {
            IncentivesError::Invalid(violations) => ApiError::invalid_fields(violations),
            IncentivesError::AwardNotFound(id) => {
                ApiError::new(ErrorCode::AwardNotFound, message).with("award_id", id)
            }
            IncentivesError::RevisionConflict { id, current, .. } => {
                ApiError::new(ErrorCode::AwardRevisionConflict, message)
                    .with("award_id", id)
                    .with("revision", current)
            }
            IncentivesError::Withdrawn(id) => {
                ApiError::new(ErrorCode::AwardWithdrawn, message).with("award_id", id)
            }
            IncentivesError::Denied(error) => error,
            IncentivesError::Database(error) => internal(&error),
            IncentivesError::Corrupt(error) => internal(&error),
            IncentivesError::Publishing(_) => ApiError::new(ErrorCode::Unavailable, message),
        }
    }
}

impl From<IncentivesError> for tonic::Status {
    fn from(error: IncentivesError) -> tonic::Status {
        ApiError::from(error).into_status()
    }
}
