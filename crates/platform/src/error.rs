//! The one registry of stable error codes.
//!
//! Every error a client can see has a code here. Each code is mapped once to a gRPC status code and
//! an HTTP status, and has a snake_case name for REST bodies, an UPPER_SNAKE reason for gRPC
//! `ErrorInfo`, and (for the SODA routes) Socrata's own code. Codes are API: never rename or reuse
//! one; add new ones at the end.

use std::collections::HashMap;

use opendata_limits::excerpt;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of every error opendata services raise.
pub const ERROR_DOMAIN: &str = "opendata.ct.gov";

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => ($name:literal, $grpc:ident, $http:literal, $soda:literal),)*) => {
        /// A stable, public error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in registry order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case name used in REST error bodies.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// The gRPC status code.
            pub fn grpc_code(self) -> Code {
                match self { $(ErrorCode::$variant => Code::$grpc,)* }
            }

            /// The HTTP status.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $http,)* }
            }

            /// Socrata's code for the same error, used on the SODA routes.
            pub fn soda_code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $soda,)* }
            }
        }
    };
}

error_codes! {
    /// A request field is missing or malformed.
    InvalidArgument => ("invalid_argument", InvalidArgument, 400, "invalid_request"),
    /// No credentials, or credentials that are unknown or revoked.
    Unauthenticated => ("unauthenticated", Unauthenticated, 401, "authentication_required"),
    /// The caller's role or agency does not allow the action.
    PermissionDenied => ("permission_denied", PermissionDenied, 403, "permission_denied"),
    /// The dataset does not exist or is not visible to the caller.
    DatasetNotFound => ("dataset_not_found", NotFound, 404, "not_found"),
    /// The dataset id is taken.
    DatasetAlreadyExists => ("dataset_already_exists", AlreadyExists, 409, "conflict"),
    /// The agency does not exist.
    AgencyNotFound => ("agency_not_found", NotFound, 404, "not_found"),
    /// The agency id is taken.
    AgencyAlreadyExists => ("agency_already_exists", AlreadyExists, 409, "conflict"),
    /// The principal does not exist.
    PrincipalNotFound => ("principal_not_found", NotFound, 404, "not_found"),
    /// The key does not exist.
    KeyNotFound => ("key_not_found", NotFound, 404, "not_found"),
    /// The upload does not exist.
    UploadNotFound => ("upload_not_found", NotFound, 404, "not_found"),
    /// The upload is not in a state that allows the action.
    UploadStateConflict => ("upload_state_conflict", FailedPrecondition, 409, "conflict"),
    /// More rows were rejected than the upload allows; nothing was committed.
    TooManyRejectedRows => ("too_many_rejected_rows", FailedPrecondition, 422, "too_many_rejected_rows"),
    /// Another version was committed since the upload began.
    VersionConflict => ("version_conflict", Aborted, 409, "conflict"),
    /// The file is not well-formed CSV (unclosed quote, wrong field count, invalid UTF-8, empty).
    MalformedFile => ("malformed_file", InvalidArgument, 400, "malformed_file"),
    /// The file's header does not match the dataset's schema.
    SchemaMismatch => ("schema_mismatch", InvalidArgument, 400, "schema_mismatch"),
    /// The schema cannot be changed this way.
    SchemaChangeRefused => ("schema_change_refused", FailedPrecondition, 409, "conflict"),
    /// A query names a column the dataset does not have.
    NoSuchColumn => ("no_such_column", InvalidArgument, 400, "query.soql.no-such-column"),
    /// A query cannot be parsed.
    MalformedQuery => ("malformed_query", InvalidArgument, 400, "query.compiler.malformed"),
    /// A query compares or combines values of incompatible types.
    TypeMismatch => ("type_mismatch", InvalidArgument, 400, "query.soql.type-mismatch"),
    /// A query calls a function that does not exist.
    NoSuchFunction => ("no_such_function", InvalidArgument, 400, "query.soql.no-such-function"),
    /// A query took longer than the server allows.
    QueryTimeout => ("query_timeout", DeadlineExceeded, 504, "query.execution.timeout"),
    /// The caller sent too many requests.
    RateLimited => ("rate_limited", ResourceExhausted, 429, "too_many_requests"),
    /// A dependency is down; retry later.
    Unavailable => ("unavailable", Unavailable, 503, "service_unavailable"),
    /// Something failed inside the service; details are in its logs.
    Internal => ("internal", Internal, 500, "internal_error"),
    /// The dataset's review state does not allow the workflow step.
    ReviewStateConflict => ("review_state_conflict", FailedPrecondition, 409, "conflict"),
    /// No award has this id.
    AwardNotFound => ("award_not_found", NotFound, 404, "not_found"),
    /// The award changed since the revision the caller read.
    AwardRevisionConflict => ("award_revision_conflict", Aborted, 409, "conflict"),
    /// The award is withdrawn and takes no more changes.
    AwardWithdrawn => ("award_withdrawn", FailedPrecondition, 409, "conflict"),
    /// The route does not answer this HTTP method.
    MethodNotAllowed => ("method_not_allowed", Unimplemented, 405, "method_not_allowed"),
    /// The request body is larger than the route takes.
    PayloadTooLarge => ("payload_too_large", InvalidArgument, 413, "payload_too_large"),
    /// The client took too long to send its request.
    RequestTimeout => ("request_timeout", DeadlineExceeded, 408, "request_timeout"),
    /// A replace upload without data rows would empty the dataset and did not say it meant to.
    EmptyReplacement => ("empty_replacement", FailedPrecondition, 409, "conflict"),
    /// No such version of the dataset (never committed).
    VersionNotFound => ("version_not_found", NotFound, 404, "not_found"),
    /// The version cannot be purged as it stands (it is current, or already purged).
    VersionStateConflict => ("version_state_conflict", FailedPrecondition, 409, "conflict"),
}

impl ErrorCode {
    /// The UPPER_SNAKE reason carried in gRPC `ErrorInfo`.
    pub fn reason(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    /// Looks a code up by its gRPC `ErrorInfo` reason.
    pub fn from_reason(reason: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str().eq_ignore_ascii_case(reason))
    }

    /// The code to assume for a gRPC status that carries no `ErrorInfo` (from a proxy, say).
    pub fn from_grpc_code(code: Code) -> ErrorCode {
        match code {
            Code::InvalidArgument | Code::OutOfRange => ErrorCode::InvalidArgument,
            Code::Unauthenticated => ErrorCode::Unauthenticated,
            Code::PermissionDenied => ErrorCode::PermissionDenied,
            Code::NotFound => ErrorCode::DatasetNotFound,
            Code::ResourceExhausted => ErrorCode::RateLimited,
            Code::DeadlineExceeded => ErrorCode::QueryTimeout,
            Code::Unavailable => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }
}

/// The longest message a gRPC status carries (a request breaking many rules lists them all).
pub const STATUS_MESSAGE_BYTES: usize = 8 * 1024;

/// The most field violations a gRPC status carries.
pub const STATUS_VIOLATIONS: usize = 100;

/// A client-visible error: a registry code, a message, and details (the offending field, line,
/// column...) that travel as `ErrorInfo` metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The registry code.
    pub code: ErrorCode,
    /// Human-readable message: lowercase, concise, no trailing period.
    pub message: String,
    /// Structured details, such as `field`, `line`, `column`.
    pub details: HashMap<String, String>,
    /// Every offending field of a request that has several, with what is wrong with each (they
    /// travel as gRPC `BadRequest` field violations).
    pub violations: Vec<FieldViolation>,
}

/// One offending field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field (`fields.grant_amount`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: HashMap::new(),
            violations: Vec::new(),
        }
    }

    /// An `invalid_argument` error listing every offending field; the message names them all.
    /// `violations` must not be empty.
    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = ApiError::new(ErrorCode::InvalidArgument, message);
        if let Some(first) = violations.first() {
            error = error.with("field", &first.field);
        }
        error.violations = violations;
        error
    }

    /// Adds one detail, cut short when long (details echo identifiers the caller sent).
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.details
            .insert(key.to_owned(), excerpt(&value.to_string()));
        self
    }

    /// Names the limit (of `opendata_limits`) the request went past, when it did.
    pub fn with_limit(self, limit: Option<&str>) -> Self {
        match limit {
            Some(limit) => self.with("limit", limit),
            None => self,
        }
    }

    /// An `invalid_argument` error naming the offending field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidArgument, message).with("field", field)
    }

    /// Reads an error back from a gRPC status produced by [`ApiError::into_status`] (or by anything
    /// else: statuses without `ErrorInfo` are classified by their gRPC code).
    pub fn from_status(status: &Status) -> Self {
        let details = status.get_error_details();
        match details.error_info() {
            Some(info) if info.domain == ERROR_DOMAIN => ApiError {
                code: ErrorCode::from_reason(&info.reason)
                    .unwrap_or_else(|| ErrorCode::from_grpc_code(status.code())),
                message: status.message().to_owned(),
                details: info.metadata.clone(),
                violations: details
                    .bad_request()
                    .map(|bad| {
                        bad.field_violations
                            .iter()
                            .map(|v| FieldViolation {
                                field: v.field.clone(),
                                description: v.description.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            // Not one of ours: transport trouble, a proxy, a library's own refusal. Its text
            // may name hosts or protocol internals, so callers get the code's plain message.
            _ => {
                let code = ErrorCode::from_grpc_code(status.code());
                tracing::warn!(grpc_code = ?status.code(), message = status.message(), "call failed outside the services");
                let message = match code {
                    ErrorCode::Unavailable => "a service is unavailable; retry in a moment",
                    ErrorCode::QueryTimeout => "the request took too long",
                    ErrorCode::InvalidArgument => "the request is too large or malformed",
                    ErrorCode::RateLimited => "too many requests; retry in a moment",
                    _ => "internal error",
                };
                ApiError::new(code, message)
            }
        }
    }

    /// This error as a client may be sent it, whatever went into it: the message at most
    /// [`STATUS_MESSAGE_BYTES`], at most [`STATUS_VIOLATIONS`] field violations (details are cut
    /// short as they are added).
    pub fn bounded(mut self) -> Self {
        if self.message.len() > STATUS_MESSAGE_BYTES {
            let mut cut = STATUS_MESSAGE_BYTES;
            while !self.message.is_char_boundary(cut) {
                cut -= 1;
            }
            self.message.truncate(cut);
            self.message.push('…');
        }
        self.violations.truncate(STATUS_VIOLATIONS);
        self
    }

    /// The gRPC status for this error, with `ErrorInfo` (and a `BadRequest` violation when a field
    /// is named).
    /// It is [bounded](ApiError::bounded).
    pub fn into_status(self) -> Status {
        let bounded = self.bounded();
        let mut details = ErrorDetails::with_error_info(
            bounded.code.reason(),
            ERROR_DOMAIN,
            bounded.details.clone(),
        );
        if let (true, Some(field)) = (bounded.violations.is_empty(), bounded.details.get("field")) {
            details.add_bad_request_violation(field.clone(), bounded.message.clone());
        }
        for violation in &bounded.violations {
            details.add_bad_request_violation(&violation.field, &violation.description);
        }
        Status::with_error_details(bounded.code.grpc_code(), bounded.message, details)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        error.into_status()
    }
}

/// Logs an internal error once, with its source chain, and returns the generic error the client
/// sees. Use at the service boundary for infrastructure failures.
pub fn internal(error: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = %chain, "internal error");
    ApiError::new(ErrorCode::Internal, "internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_grpc_status() {
        for &code in ErrorCode::ALL {
            let status = ApiError::new(code, "boom").with("line", 7).into_status();
            assert_eq!(status.code(), code.grpc_code());
            let back = ApiError::from_status(&status);
            assert_eq!(back.code, code);
            assert_eq!(back.message, "boom");
            assert_eq!(back.details.get("line").map(String::as_str), Some("7"));
        }
    }

    #[test]
    fn what_a_status_carries_is_bounded() {
        let violations = (0..1_000)
            .map(|index| FieldViolation {
                field: format!("awards[{index}].company"),
                description: "é".repeat(100),
            })
            .collect();
        let error = ApiError::invalid_fields(violations).with("award_id", "x".repeat(100_000));
        let back = ApiError::from_status(&error.into_status());
        assert!(back.message.len() <= STATUS_MESSAGE_BYTES + '…'.len_utf8());
        assert!(back.message.ends_with('…'));
        assert_eq!(back.violations.len(), STATUS_VIOLATIONS);
        assert!(back.details["award_id"].len() < 100);
    }

    #[test]
    fn every_field_violation_round_trips() {
        let error = ApiError::invalid_fields(vec![
            FieldViolation {
                field: "a".into(),
                description: "must not be negative".into(),
            },
            FieldViolation {
                field: "b".into(),
                description: "is required".into(),
            },
        ]);
        assert_eq!(error.message, "a: must not be negative; b: is required");
        let back = ApiError::from_status(&error.clone().into_status());
        assert_eq!(back.violations, error.violations);
        assert_eq!(back.details.get("field").map(String::as_str), Some("a"));
    }

    #[test]
    fn code_names_are_unique() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn statuses_without_error_info_are_classified_by_code_and_keep_their_text_private() {
        let error = ApiError::from_status(&Status::unavailable(
            "tcp connect error: 10.0.3.7:50052 connection refused",
        ));
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert!(!error.message.contains("10.0.3.7"), "{}", error.message);
    }
}
