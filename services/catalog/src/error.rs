//! The catalog's domain errors and their public codes.

use opendata_datastore::schema::SchemaError;
use opendata_platform::error::{ApiError, ErrorCode, internal};
use opendata_soql::{ErrorKind, SoqlError};

use crate::model::MetadataError;

/// What can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
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
    /// No visible dataset has this id.
    #[error("dataset {0} does not exist")]
    NotFound(String),
    /// The id is taken.
    #[error("dataset {0} already exists")]
    AlreadyExists(String),
    /// The owning agency does not exist.
    #[error("agency {0} does not exist")]
    AgencyNotFound(String),
    /// The schema cannot change this way.
    #[error("{0}")]
    SchemaChange(String),
    /// The caller may not do this.
    #[error(transparent)]
    Denied(ApiError),
    /// A query the catalog reads itself failed after it started, as its stream reported it.
    #[error(transparent)]
    Midway(ApiError),
    /// The caller already runs as many queries as it may at once.
    #[error("{message}")]
    TooManyQueries {
        /// The limit (see `opendata_limits`).
        limit: &'static str,
        /// What happened and what to do.
        message: String,
    },
    /// The query took longer than the caller may (the statement timeout, or the deadline on the
    /// whole stream).
    #[error(
        "the query took longer than its time ({limit}); narrow it with filters or a smaller $limit"
    )]
    TimedOut {
        /// The limit (see `opendata_limits`).
        limit: &'static str,
    },
    /// Every connection the caller's class may use is busy.
    #[error("{message}")]
    Busy {
        /// The limit (see `opendata_limits`).
        limit: &'static str,
        /// What happened and what to do.
        message: String,
    },
    /// The row query is not valid for the dataset.
    #[error(transparent)]
    Query(#[from] SoqlError),
    /// A version parameter (`$version`, a diff's `from` or `to`) names no version readers can
    /// read.
    #[error("{message}")]
    NoSuchVersion {
        /// The parameter.
        parameter: &'static str,
        /// Why.
        message: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl CatalogError {
    /// A malformed-field error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CatalogError::Invalid {
            field: field.into(),
            message: message.into(),
            limit: None,
        }
    }

    /// A schema the caller sent under `prefix` (`schema`) that is not acceptable.
    pub fn schema(prefix: &str, error: SchemaError) -> Self {
        CatalogError::Invalid {
            field: format!("{prefix}.{}", error.field),
            message: error.message,
            limit: error.limit,
        }
    }
}

impl From<MetadataError> for CatalogError {
    fn from(error: MetadataError) -> Self {
        CatalogError::Invalid {
            field: error.field.to_owned(),
            message: error.message,
            limit: error.limit,
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> ApiError {
        let message = error.to_string();
        match error {
            CatalogError::Invalid {
                field,
                message,
                limit,
            } => ApiError::invalid_field(&field, message).with_limit(limit),
            CatalogError::NotFound(id) => {
                ApiError::new(ErrorCode::DatasetNotFound, message).with("dataset_id", id)
            }
            CatalogError::AlreadyExists(id) => {
                ApiError::new(ErrorCode::DatasetAlreadyExists, message).with("dataset_id", id)
            }
            CatalogError::AgencyNotFound(id) => {
                ApiError::new(ErrorCode::AgencyNotFound, message).with("agency_id", id)
            }
            CatalogError::SchemaChange(_) => ApiError::new(ErrorCode::SchemaChangeRefused, message),
            CatalogError::Denied(error) | CatalogError::Midway(error) => error,
            CatalogError::TooManyQueries { limit, .. } => {
                ApiError::new(ErrorCode::RateLimited, message).with("limit", limit)
            }
            CatalogError::TimedOut { limit } => {
                ApiError::new(ErrorCode::QueryTimeout, message).with("limit", limit)
            }
            CatalogError::Busy { limit, .. } => {
                ApiError::new(ErrorCode::Unavailable, message).with("limit", limit)
            }
            CatalogError::NoSuchVersion { parameter, .. } => {
                ApiError::new(ErrorCode::InvalidArgument, message).with("parameter", parameter)
            }
            CatalogError::Query(query) => {
                let code = match query.kind {
                    ErrorKind::NoSuchColumn => ErrorCode::NoSuchColumn,
                    ErrorKind::Malformed => ErrorCode::MalformedQuery,
                    ErrorKind::TypeMismatch => ErrorCode::TypeMismatch,
                    ErrorKind::NoSuchFunction => ErrorCode::NoSuchFunction,
                };
                let mut error = ApiError::new(code, message).with("parameter", &query.parameter);
                if let Some(limit) = query.limit {
                    error = error.with("limit", limit);
                }
                if query.position.line > 0 {
                    error = error
                        .with("line", query.position.line)
                        .with("character", query.position.column);
                }
                match (query.kind, query.name) {
                    (ErrorKind::NoSuchColumn, Some(name)) => error.with("column", name),
                    (ErrorKind::NoSuchFunction, Some(name)) => error.with("function", name),
                    _ => error,
                }
            }
            CatalogError::Database(error) => {
                match error.as_database_error().and_then(|e| e.code()).as_deref() {
                    _ if matches!(error, sqlx::Error::PoolTimedOut) => ApiError::new(
                        ErrorCode::Unavailable,
                        "too many queries are running; retry in a moment",
                    ),
                    Some("57014") => ApiError::new(
                        ErrorCode::QueryTimeout,
                        "the query took too long; narrow it with filters or a smaller $limit",
                    ),
                    // Data errors the query itself caused: report them, without the database's
                    // wording (which names internal tables).
                    Some("22012") => {
                        ApiError::new(ErrorCode::InvalidArgument, "division by zero in the query")
                    }
                    Some("22P02" | "22007" | "22008") => ApiError::new(
                        ErrorCode::TypeMismatch,
                        "a value in the query could not be converted to the type it was cast to",
                    ),
                    Some("22003") => ApiError::new(
                        ErrorCode::InvalidArgument,
                        "a number in the query is out of range",
                    ),
                    Some("2201E" | "2201F" | "22023") => ApiError::new(
                        ErrorCode::InvalidArgument,
                        "a function in the query got an argument outside its domain (ln of a negative number?)",
                    ),
                    Some("22025" | "22019") => ApiError::new(
                        ErrorCode::InvalidArgument,
                        "a LIKE pattern in the query has a bad escape (does it end in a backslash?)",
                    ),
                    Some("22014") => ApiError::new(
                        ErrorCode::InvalidArgument,
                        "ntile in the query needs a number of buckets greater than zero",
                    ),
                    // Any other data exception (class 22) is a value of the query's own making.
                    Some(code) if code.starts_with("22") => {
                        tracing::info!(sqlstate = code, "a query's value was refused");
                        ApiError::new(
                            ErrorCode::InvalidArgument,
                            "a value in the query is outside what its function or operator takes",
                        )
                    }
                    _ => internal(&error),
                }
            }
        }
    }
}

impl From<CatalogError> for tonic::Status {
    fn from(error: CatalogError) -> tonic::Status {
        ApiError::from(error).into_status()
    }
}
