//! Cross-service scenarios through the public APIs, against real PostgreSQL and NATS.

mod auth;
mod bad_input;
mod modes;
mod roundtrip;
mod support;
