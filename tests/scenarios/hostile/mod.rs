//! Hostile clients through the real edge and gRPC: every probe of the hardening review gets the
//! status it should, the process stays up, and ordinary callers keep being served.

mod connections;
mod events;
mod fairness;
mod fields;
mod probes;
mod queries;
