//! Platform plumbing shared by every opendata service: layered configuration, telemetry, the error
//! code registry, gRPC helpers, authentication, events (JetStream, outbox, consumers), database
//! pools and migrations, health, supervised tasks, and graceful shutdown.

pub mod auth;
pub mod authz;
pub mod channels;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc;
pub mod health;
pub mod in_flight;
pub mod metrics;
pub mod replace_rows;
pub mod shutdown;
pub mod streams;
pub mod tasks;
pub mod telemetry;
pub mod text;
pub mod timestamp;
pub mod upload;

pub use error::{ApiError, ErrorCode};
