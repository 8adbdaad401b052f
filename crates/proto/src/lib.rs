//! Generated protobuf messages and tonic clients and servers for every opendata service.
//!
//! The sources are the `.proto` files under the workspace's `proto/` directory; packages map to
//! modules (`opendata.catalog.v1` is [`opendata::catalog::v1`]). Re-exports at the top name the
//! packages services use most.

#![allow(missing_docs, clippy::all, unused_qualifications)]

include!(concat!(env!("OUT_DIR"), "/opendata.rs"));

pub use opendata::{catalog, common, governance, incentives, ingestion, search};
