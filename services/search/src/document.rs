//! What the index holds: one [`SearchDocument`] per public dataset, built from the catalog's view
//! of it, and one per current incentive award, built from the incentives service's view; each
//! turned back into a search hit.

use chrono::{DateTime, Utc};
use opendata_datastore::convert::column_type_from_proto;
use opendata_platform::timestamp::{from_proto, to_proto};
use opendata_proto::catalog::v1::{Dataset, PublicationStage};
use opendata_proto::common::v1::AccessLevel;
use opendata_proto::incentives::v1::Award;
use opendata_proto::search::v1 as pb;
use serde::{Deserialize, Serialize};

/// The kind of a document; also the `type` facet and filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Dataset,
    /// A DECD incentive award.
    IncentiveAward,
}

impl DocumentKind {
    /// The name used in filters and facets.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Dataset => "dataset",
            DocumentKind::IncentiveAward => "incentive_award",
        }
    }
}

/// A column of a dataset document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentColumn {
    /// API field name.
    pub field_name: String,
    /// Display name.
    pub name: String,
    /// Socrata data type name.
    pub data_type: String,
    pub description: String,
}

/// What an award's document adds, for filtering: where, under which program, in which state
/// fiscal year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardFacts {
    pub municipality: String,
    /// Program id (funding source).
    pub program_id: String,
    /// State fiscal year.
    pub fiscal_year: i32,
}

/// One searchable document. Timestamps are Unix milliseconds so every engine can sort on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchDocument {
    /// Dataset id or award id.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: DocumentKind,
    pub title: String,
    /// Lowercased title, for sorting by name.
    pub title_sort: String,
    pub description: String,
    /// Owning agency id.
    pub agency_id: String,
    /// Owning agency's name.
    pub agency_name: String,
    /// Category (empty when none).
    pub category: String,
    pub tags: Vec<String>,
    /// Display names of the columns, searchable.
    pub column_names: Vec<String>,
    /// Descriptions of the columns, searchable.
    pub column_descriptions: Vec<String>,
    /// Columns in position order.
    pub columns: Vec<DocumentColumn>,
    pub attribution: String,
    pub contact_email: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Metadata or data last changed, whichever is later, Unix ms.
    pub updated_at: i64,
    /// Metadata last changed, Unix ms.
    pub metadata_updated_at: i64,
    /// Data last changed, Unix ms; absent before the first load.
    pub data_updated_at: Option<i64>,
    /// Last published, Unix ms.
    pub published_at: Option<i64>,
    /// An award's facts; none for a dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub award: Option<AwardFacts>,
}

/// Whether the public may find `dataset`: published and not withheld (non-public access level).
pub fn is_public(dataset: &Dataset) -> bool {
    dataset.publication_stage() == PublicationStage::Published
        && dataset
            .metadata
            .as_ref()
            .is_none_or(|metadata| metadata.access_level() != AccessLevel::NonPublic)
}

fn millis(timestamp: Option<&prost_types::Timestamp>) -> Option<i64> {
    timestamp.and_then(from_proto).map(|t| t.timestamp_millis())
}

fn timestamp(millis: i64) -> Option<prost_types::Timestamp> {
    DateTime::<Utc>::from_timestamp_millis(millis).map(to_proto)
}

impl SearchDocument {
    /// The document of a public dataset owned by an agency called `agency_name`.
    pub fn from_dataset(dataset: &Dataset, agency_name: &str) -> SearchDocument {
        let metadata = dataset.metadata.clone().unwrap_or_default();
        let mut columns: Vec<_> = dataset
            .schema
            .as_ref()
            .map(|schema| schema.columns.clone())
            .unwrap_or_default();
        columns.sort_by_key(|column| column.position);
        let columns: Vec<DocumentColumn> = columns
            .into_iter()
            .map(|column| DocumentColumn {
                data_type: column_type_from_proto(column.r#type)
                    .map(|t| t.data_type_name().to_owned())
                    .unwrap_or_default(),
                field_name: column.field_name,
                name: column.display_name,
                description: column.description,
            })
            .collect();
        let created_at = millis(dataset.created_at.as_ref()).unwrap_or_default();
        let metadata_updated_at =
            millis(dataset.metadata_updated_at.as_ref()).unwrap_or(created_at);
        let data_updated_at = millis(dataset.data_updated_at.as_ref());
        SearchDocument {
            id: dataset.id.clone(),
            kind: DocumentKind::Dataset,
            title_sort: metadata.title.to_lowercase(),
            title: metadata.title,
            description: metadata.description,
            agency_id: dataset.agency_id.clone(),
            agency_name: agency_name.to_owned(),
            category: metadata.category,
            tags: metadata.keywords,
            column_names: columns.iter().map(|c| c.name.clone()).collect(),
            column_descriptions: columns
                .iter()
                .map(|c| c.description.clone())
                .filter(|d| !d.is_empty())
                .collect(),
            columns,
            attribution: metadata.attribution,
            contact_email: metadata.contact_point.map(|c| c.email).unwrap_or_default(),
            created_at,
            updated_at: metadata_updated_at.max(data_updated_at.unwrap_or_default()),
            metadata_updated_at,
            data_updated_at,
            published_at: millis(dataset.published_at.as_ref()),
            award: None,
        }
    }

    /// The document of a current (not withdrawn) incentive award, owned by `agency_id`. Only
    /// names are searchable: the company is its title, parent company and project describe it.
    /// Municipality, industry, program and agency name stay out, so a company search for
    /// "Hartford" or "Community" finds companies so named, not every award of a town or program
    /// (those are filters: [`AwardFacts`]).
    pub fn from_award(award: &Award, agency_id: &str) -> Option<SearchDocument> {
        let fields = award.fields.as_ref()?;
        let created_at = millis(award.created_at.as_ref()).unwrap_or_default();
        let updated_at = millis(award.updated_at.as_ref()).unwrap_or(created_at);
        let describing = [fields.parent_company.as_str(), fields.project_name.as_str()];
        Some(SearchDocument {
            id: award.id.clone(),
            kind: DocumentKind::IncentiveAward,
            title: fields.company.clone(),
            title_sort: fields.company.to_lowercase(),
            description: describing
                .iter()
                .filter(|part| !part.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" · "),
            agency_id: agency_id.to_owned(),
            agency_name: String::new(),
            category: String::new(),
            tags: Vec::new(),
            column_names: Vec::new(),
            column_descriptions: Vec::new(),
            columns: Vec::new(),
            attribution: String::new(),
            contact_email: String::new(),
            created_at,
            updated_at,
            metadata_updated_at: updated_at,
            data_updated_at: Some(updated_at),
            published_at: Some(created_at),
            award: Some(AwardFacts {
                municipality: fields.municipality.clone(),
                program_id: fields.program_id.clone(),
                fiscal_year: fields.fiscal_year,
            }),
        })
    }

    /// The document as a search hit with `score`.
    pub fn to_hit(&self, score: f64) -> pb::SearchHit {
        pb::SearchHit {
            id: self.id.clone(),
            r#type: self.kind.as_str().to_owned(),
            title: self.title.clone(),
            description: self.description.clone(),
            agency_id: self.agency_id.clone(),
            agency_name: self.agency_name.clone(),
            category: self.category.clone(),
            tags: self.tags.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| pb::HitColumn {
                    field_name: c.field_name.clone(),
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    description: c.description.clone(),
                })
                .collect(),
            attribution: self.attribution.clone(),
            updated_at: timestamp(self.updated_at),
            created_at: timestamp(self.created_at),
            score,
            metadata_updated_at: timestamp(self.metadata_updated_at),
            data_updated_at: self.data_updated_at.and_then(timestamp),
            published_at: self.published_at.and_then(timestamp),
            contact_email: self.contact_email.clone(),
        }
    }
}
