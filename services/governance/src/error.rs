//! Governance's domain errors and their public codes.

use opendata_limits::Limit;
use opendata_platform::error::{ApiError, ErrorCode, internal};

/// What can go wrong in governance.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// A request field is missing or malformed.
    #[error("{message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
        /// The limit it goes past, when that is what is wrong.
        limit: Option<&'static str>,
    },
    /// No agency has this id.
    #[error("agency {0} does not exist")]
    AgencyNotFound(String),
    /// The agency id is taken.
    #[error("agency {0} already exists")]
    AgencyAlreadyExists(String),
    /// No principal has this id.
    #[error("principal {0} does not exist")]
    PrincipalNotFound(String),
    /// No key has this id.
    #[error("key {0} does not exist")]
    KeyNotFound(String),
    /// The key is unknown or revoked.
    #[error("the api key is unknown or revoked")]
    Unauthenticated,
    /// The caller may not do this.
    #[error(transparent)]
    Denied(ApiError),
    /// No dataset (or inventory record) has this id, or the caller may not see it.
    #[error("dataset {0} does not exist")]
    DatasetNotFound(String),
    /// The record's state does not allow the step.
    #[error(
        "cannot {step} dataset {dataset_id}: it is {state}; {step} applies to a dataset that is {allowed}"
    )]
    IllegalTransition {
        /// The dataset.
        dataset_id: String,
        /// The step asked for.
        step: &'static str,
        /// The record's current state.
        state: &'static str,
        /// States the step applies to.
        allowed: String,
    },
    /// The catalog did not answer.
    #[error("the catalog is unavailable: {0}")]
    CatalogUnavailable(String),
    /// Something failed inside governance.
    #[error("internal: {0}")]
    Internal(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// `value` trimmed, or an error naming `field` when it is empty or goes past `limit`.
pub fn required<'a>(
    field: &'static str,
    value: &'a str,
    limit: Limit,
) -> Result<&'a str, GovernanceError> {
    let value = within(field, value, limit)?;
    if value.is_empty() {
        Err(GovernanceError::invalid(
            field,
            format!("{field} is required"),
        ))
    } else {
        Ok(value)
    }
}

/// `value` trimmed, or an error naming `field` when it goes past `limit` (or holds a NUL
/// character).
pub fn within<'a>(
    field: &'static str,
    value: &'a str,
    limit: Limit,
) -> Result<&'a str, GovernanceError> {
    let value = value.trim();
    match limit.text_problem(value) {
        None => Ok(value),
        Some(message) => Err(GovernanceError::Invalid {
            field,
            message: format!("{field}: {message}"),
            limit: (!value.contains('\0')).then_some(limit.name),
        }),
    }
}

impl GovernanceError {
    /// A malformed-field error.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        GovernanceError::Invalid {
            field,
            message: message.into(),
            limit: None,
        }
    }
}

impl From<GovernanceError> for ApiError {
    fn from(error: GovernanceError) -> ApiError {
        let message = error.to_string();
        match error {
            GovernanceError::Invalid {
                field,
                message,
                limit,
            } => ApiError::invalid_field(field, message).with_limit(limit),
            GovernanceError::AgencyNotFound(id) => {
                ApiError::new(ErrorCode::AgencyNotFound, message).with("agency_id", id)
            }
            GovernanceError::AgencyAlreadyExists(id) => {
                ApiError::new(ErrorCode::AgencyAlreadyExists, message).with("agency_id", id)
            }
            GovernanceError::PrincipalNotFound(id) => {
                ApiError::new(ErrorCode::PrincipalNotFound, message).with("principal_id", id)
            }
            GovernanceError::KeyNotFound(id) => {
                ApiError::new(ErrorCode::KeyNotFound, message).with("key_id", id)
            }
            GovernanceError::Unauthenticated => ApiError::new(ErrorCode::Unauthenticated, message),
            GovernanceError::Denied(error) => error,
            GovernanceError::DatasetNotFound(id) => {
                ApiError::new(ErrorCode::DatasetNotFound, message).with("dataset_id", id)
            }
            GovernanceError::IllegalTransition {
                dataset_id, state, ..
            } => ApiError::new(ErrorCode::ReviewStateConflict, message)
                .with("dataset_id", dataset_id)
                .with("state", state),
            GovernanceError::CatalogUnavailable(_) => {
                ApiError::new(ErrorCode::Unavailable, message)
            }
            GovernanceError::Internal(_) => internal(&error),
            GovernanceError::Database(error) => internal(&error),
        }
    }
}

impl From<GovernanceError> for tonic::Status {
    fn from(error: GovernanceError) -> tonic::Status {
        ApiError::from(error).into_status()
    }
}
