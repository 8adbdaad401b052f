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

impl common::v1::AccessLevel {
    /// DCAT-US's spelling of the level (`public`, `restricted public`, `non-public`); unspecified
    /// reads as `public`.
    pub fn dcat_name(self) -> &'static str {
        use common::v1::AccessLevel;
        match self {
            AccessLevel::Public | AccessLevel::Unspecified => "public",
            AccessLevel::RestrictedPublic => "restricted public",
            AccessLevel::NonPublic => "non-public",
        }
    }

    /// The level a withheld dataset is disclosed at: restricted public stays so, anything else is
    /// non-public.
    pub fn as_withheld(self) -> Self {
        use common::v1::AccessLevel;
        match self {
            AccessLevel::RestrictedPublic => AccessLevel::RestrictedPublic,
            _ => AccessLevel::NonPublic,
        }
    }

    /// The level DCAT-US spells `name`; `None` for any other text.
    pub fn from_dcat_name(name: &str) -> Option<Self> {
        use common::v1::AccessLevel;
        [
            AccessLevel::Public,
            AccessLevel::RestrictedPublic,
            AccessLevel::NonPublic,
        ]
        .into_iter()
        .find(|level| level.dcat_name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::common::v1::AccessLevel;

    #[test]
    fn access_levels_read_back_from_their_dcat_names() {
        for level in [
            AccessLevel::Public,
            AccessLevel::RestrictedPublic,
            AccessLevel::NonPublic,
        ] {
            assert_eq!(AccessLevel::from_dcat_name(level.dcat_name()), Some(level));
        }
        assert_eq!(AccessLevel::Unspecified.dcat_name(), "public");
        assert_eq!(AccessLevel::from_dcat_name("Non-Public"), None);
        assert_eq!(
            AccessLevel::RestrictedPublic.as_withheld(),
            AccessLevel::RestrictedPublic
        );
        for level in [
            AccessLevel::Unspecified,
            AccessLevel::Public,
            AccessLevel::NonPublic,
        ] {
            assert_eq!(level.as_withheld(), AccessLevel::NonPublic);
        }
    }
}
