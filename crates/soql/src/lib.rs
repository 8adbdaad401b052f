//! SoQL, the Socrata Query Language: a lexer, a parser with Socrata's precedence, a type checker
//! and a compiler to parameterised PostgreSQL. Pure and I/O-free: identifiers come only from the
//! dataset's schema and every value becomes a bind parameter.

pub mod ast;
pub mod compile;
pub mod error;
pub mod functions;
pub mod lexer;
pub mod naming;
pub mod parser;
pub mod typed;
pub mod types;

pub use compile::{CompiledQuery, DEFAULT_LIMIT, QueryRequest, compile, parse_request};
pub use error::{ErrorKind, Position, SoqlError};
pub use types::{SoqlType, Target};

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod proptests;
