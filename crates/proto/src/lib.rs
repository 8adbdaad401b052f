//! Generated protobuf messages and tonic clients and servers for every opendata service.
//!
//! The sources are the `.proto` files under the workspace's `proto/` directory; packages map to
//! modules (`opendata.catalog.v1` is [`opendata::catalog::v1`]). Re-exports at the top name the
//! packages services use most.

#![allow(missing_docs, clippy::all, unused_qualifications)]

include!(concat!(env!("OUT_DIR"), "/opendata.rs"));
include!(concat!(env!("OUT_DIR"), "/rpc_paths.rs"));

pub use opendata::{catalog, common, governance, incentives, ingestion, search};

impl common::v1::ColumnType {
    /// Socrata's `dataTypeName` for the type (`text`, `number`, `calendar_date`, `date`, ...);
    /// unspecified reads as `text`.
    pub fn data_type_name(self) -> &'static str {
        use common::v1::ColumnType;
        match self {
            ColumnType::Text | ColumnType::Unspecified => "text",
            ColumnType::Number => "number",
            ColumnType::Double => "double",
            ColumnType::Checkbox => "checkbox",
            ColumnType::CalendarDate => "calendar_date",
            ColumnType::Date => "date",
            ColumnType::Point => "point",
            ColumnType::Location => "location",
            ColumnType::Url => "url",
        }
    }
}
