//! Typed SoQL errors, each with the position (1-based line and column) where it was found.

use std::fmt;

/// Where in a clause an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// What kind of error, mapped to Socrata's codes by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not parse (`query.compiler.malformed`).
    Malformed,
    /// A name that is not a column or alias (`query.soql.no-such-column`).
    NoSuchColumn,
    /// A function that does not exist, or not with these arguments (`query.soql.no-such-function`).
    NoSuchFunction,
    /// Values of incompatible types (`query.soql.type-mismatch`).
    TypeMismatch,
}

/// A SoQL error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SoqlError {
    /// The kind.
    pub kind: ErrorKind,
    /// What is wrong, for people.
    pub message: String,
    /// The parameter the error is in (`$where`, `$select`, ...), when known.
    pub parameter: String,
    /// Where in that parameter.
    pub position: Position,
    /// The offending name, for unknown columns and functions.
    pub name: Option<String>,
    /// The limit the query went past (see `opendata_limits`), when that is the error.
    pub limit: Option<&'static str>,
}

impl SoqlError {
    /// An error of `kind` at `position`.
    pub fn new(kind: ErrorKind, position: Position, message: impl Into<String>) -> Self {
        SoqlError {
            kind,
            message: message.into(),
            parameter: String::new(),
            position,
            name: None,
            limit: None,
        }
    }

    /// A query past one of the limits of `opendata_limits`; the message says which and by how much.
    pub fn over_limit(
        limit: opendata_limits::Limit,
        position: Position,
        message: impl Into<String>,
    ) -> Self {
        SoqlError {
            limit: Some(limit.name),
            ..SoqlError::malformed(position, message)
        }
    }

    /// A malformed-text error.
    pub fn malformed(position: Position, message: impl Into<String>) -> Self {
        SoqlError::new(ErrorKind::Malformed, position, message)
    }

    /// A type mismatch.
    pub fn mismatch(position: Position, message: impl Into<String>) -> Self {
        SoqlError::new(ErrorKind::TypeMismatch, position, message)
    }

    /// Names the parameter the error is in (unless already named).
    pub fn in_parameter(mut self, parameter: &str) -> Self {
        if self.parameter.is_empty() {
            self.parameter = parameter.to_owned();
        }
        self
    }

    /// Records the offending name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(opendata_limits::excerpt(name));
        self
    }
}
