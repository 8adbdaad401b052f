//! The incentives service's domain errors and their public codes, and the rules every text and
//! list a client sends is held to: each within its limit of `opendata_limits`, no NUL character
//! (PostgreSQL cannot store one), and never repeated whole in an error message (values are
//! quoted through `opendata_limits::excerpt`).

use opendata_limits::Limit;
use opendata_platform::db::{DeploymentError, is_broken_deployment};
use opendata_platform::error::{ApiError, ErrorCode, FieldViolation, internal};
use opendata_platform::text::{TextError, check_count, check_list, check_text};

/// What can go wrong recording or reading awards.
#[derive(Debug, thiserror::Error)]
pub enum IncentivesError {
    /// One or more request fields break the rules.
    #[error("invalid request")]
    Invalid(Violations),
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
    /// Every place the request needs is taken.
    #[error("{message}")]
    Busy {
        /// The limit (see `opendata_limits`).
        limit: &'static str,
        /// What happened and what to do.
        message: String,
    },
    /// The request took longer than its time.
    #[error("the download took longer than its time ({limit}); narrow it with filters")]
    TimedOut {
        /// The limit (see `opendata_limits`).
        limit: &'static str,
    },
    /// Stored values could not be read back.
    #[error("stored award values are unreadable: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl IncentivesError {
    /// One offending request field.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        let mut violations = Violations::default();
        violations.add(field, description);
        IncentivesError::Invalid(violations)
    }
}

impl From<TextError> for IncentivesError {
    fn from(error: TextError) -> Self {
        let mut violations = Violations::default();
        violations.push(error);
        IncentivesError::Invalid(violations)
    }
}

/// Every rule a request breaks, each naming its field, and the first limit one of them goes past
/// (the error's `limit` detail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    /// The offending fields, in the order they were found.
    pub fields: Vec<FieldViolation>,
    /// The first limit a field goes past.
    pub limit: Option<&'static str>,
}

impl Violations {
    /// Records that `field` is wrong.
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.fields.push(FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        });
    }

    /// Records a field past its limit or holding a NUL character.
    pub fn push(&mut self, error: TextError) {
        self.limit = self.limit.or(error.limit);
        self.fields.push(error.into());
    }

    /// Checks `value` against `limit` (and for NUL characters); whether it passed.
    pub fn text(&mut self, field: &str, value: &str, limit: Limit) -> bool {
        self.passed(check_text(field, value, limit))
    }

    /// Checks that a list has at most `limit` items; whether it passed.
    pub fn count(&mut self, field: &str, count: usize, limit: Limit) -> bool {
        self.passed(check_count(field, count, limit))
    }

    /// Checks a list filter: at most `FILTER_VALUES` values, each within `each`; whether it
    /// passed.
    pub fn list<S: AsRef<str>>(&mut self, field: &str, values: &[S], each: Limit) -> bool {
        self.passed(check_list(field, values, each))
    }

    fn passed(&mut self, check: Result<(), TextError>) -> bool {
        match check {
            Ok(()) => true,
            Err(error) => {
                self.push(error);
                false
            }
        }
    }

    /// Adds `other`'s violations with `prefix` before each field (`awards[3].`).
    pub fn extend_prefixed(&mut self, prefix: &str, other: Violations) {
        self.limit = self.limit.or(other.limit);
        self.fields
            .extend(other.fields.into_iter().map(|violation| FieldViolation {
                field: format!("{prefix}{}", violation.field),
                description: violation.description,
            }));
    }

    /// These violations with `prefix` before each field.
    pub fn prefixed(self, prefix: &str) -> Violations {
        let mut violations = Violations::default();
        violations.extend_prefixed(prefix, self);
        violations
    }

    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `value` when nothing is wrong; else every violation.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// `value` trimmed, or an error naming `field` when it is empty.
pub fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, IncentivesError> {
    match value.trim() {
        "" => Err(IncentivesError::invalid(field, "is required")),
        value => Ok(value),
    }
}

/// `value` trimmed, or an error naming `field` when it is empty, past `limit` or holds a NUL.
pub fn required_within<'a>(
    field: &str,
    value: &'a str,
    limit: Limit,
) -> Result<&'a str, IncentivesError> {
    let value = required(field, value)?;
    check_text(field, value, limit)?;
    Ok(value)
}

impl From<IncentivesError> for ApiError {
    fn from(error: IncentivesError) -> ApiError {
        let message = error.to_string();
        match error {
            IncentivesError::Invalid(Violations { fields, limit }) => {
                ApiError::invalid_fields(fields).with_limit(limit)
            }
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
            IncentivesError::Busy { limit, .. } => {
                ApiError::new(ErrorCode::Unavailable, message).with("limit", limit)
            }
            IncentivesError::TimedOut { limit } => {
                ApiError::new(ErrorCode::QueryTimeout, message).with("limit", limit)
            }
        }
    }
}

impl From<IncentivesError> for tonic::Status {
    fn from(error: IncentivesError) -> tonic::Status {
        ApiError::from(error).into_status()
    }
}

impl DeploymentError for IncentivesError {
    fn is_broken_deployment(&self) -> bool {
        matches!(self, IncentivesError::Database(error) if is_broken_deployment(error))
    }
}
