//! Dataset tables: column types and schemas, coercion of messy cell text, a chunk-fed CSV reader,
//! schema inference, the COPY row encoding, table naming and DDL, and the serialization of rows into Socrata's JSON and CSV.

pub mod coerce;
pub mod convert;
pub mod csv_stream;
pub mod dataset_id;
pub mod encode;
pub mod infer;
pub mod output;
pub mod schema;
pub mod table;

#[cfg(test)]
mod csv_proptests;
