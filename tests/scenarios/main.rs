//! Cross-service scenarios through the public APIs, against real PostgreSQL and NATS.

mod roundtrip;
mod support;
