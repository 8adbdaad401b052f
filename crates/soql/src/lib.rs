//! SoQL, the Socrata Query Language: a lexer, a parser with Socrata's precedence, a type checker
//! producing a typed tree, and a renderer of that tree to parameterised PostgreSQL; functions are
//! rows of one table ([`functions::functions`]). Pure and I/O-free: identifiers come only from the
//! dataset's schema and every value the caller writes becomes a bind parameter (the SQL holds no
//! caller text; its only inline numbers are window frames' offsets, which the parser read as
//! whole numbers, and the compiler's own constants).

pub mod ast;
mod check;
pub mod clause_examples;
mod clauses;
pub mod compile;
pub mod error;
pub mod functions;
mod geometry;
pub mod lexer;
pub mod naming;
pub mod parser;
mod render;
pub mod request;
mod typed;
pub mod types;
pub mod window;

pub use compile::{CompiledQuery, DEFAULT_LIMIT, compile};
pub use error::{ErrorKind, Position, SoqlError};
pub use request::{QueryRequest, parse_request};
pub use types::{Extensions, SoqlType, Target};

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod proptests;
