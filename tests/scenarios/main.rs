//! Cross-service scenarios through the public APIs, against real PostgreSQL and NATS.

mod auth;
mod bad_input;
mod balancing;
mod catalog;
mod deployment;
mod differential;
mod edge;
mod events;
mod governance;
mod hostile;
mod incentives;
mod injection;
mod metrics;
mod modes;
mod pages;
mod rehearsal;
mod roundtrip;
mod sample;
mod search;
mod shutdown;
mod soql;
mod staff_pages;
mod supervision;
mod support;
mod tls;
mod trace;
