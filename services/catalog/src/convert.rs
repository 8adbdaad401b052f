//! Conversions between the catalog's domain types and its protobuf messages.

use opendata_datastore::convert::schema_to_proto;
use opendata_platform::timestamp::{to_proto, to_proto_opt};
use opendata_proto::catalog::v1 as pb;
use opendata_proto::common::v1::AccessLevel as PbAccessLevel;

use crate::model::{AccessLevel, Dataset, Metadata, Stage};
use crate::store::VersionRecord;

/// Access level to protobuf.
pub fn access_level_to_proto(level: AccessLevel) -> PbAccessLevel {
    match level {
        AccessLevel::Public => PbAccessLevel::Public,
        AccessLevel::RestrictedPublic => PbAccessLevel::RestrictedPublic,
        AccessLevel::NonPublic => PbAccessLevel::NonPublic,
    }
}

/// Access level from protobuf; unspecified is public.
pub fn access_level_from_proto(level: PbAccessLevel) -> AccessLevel {
    match level {
        PbAccessLevel::Unspecified | PbAccessLevel::Public => AccessLevel::Public,
        PbAccessLevel::RestrictedPublic => AccessLevel::RestrictedPublic,
        PbAccessLevel::NonPublic => AccessLevel::NonPublic,
    }
}

/// Stage to protobuf.
pub fn stage_to_proto(stage: Stage) -> pb::PublicationStage {
    match stage {
        Stage::Private => pb::PublicationStage::Private,
        Stage::Published => pb::PublicationStage::Published,
    }
}

/// Metadata to protobuf.
pub fn metadata_to_proto(metadata: &Metadata) -> pb::DatasetMetadata {
    pb::DatasetMetadata {
        title: metadata.title.clone(),
        description: metadata.description.clone(),
        keywords: metadata.keywords.clone(),
        category: metadata.category.clone(),
        publisher: metadata.publisher.clone(),
        contact_point: Some(pb::ContactPoint {
            name: metadata.contact_name.clone(),
            email: metadata.contact_email.clone(),
        }),
        license: metadata.license.clone(),
        access_level: access_level_to_proto(metadata.access_level) as i32,
        rights: metadata.rights.clone(),
        spatial: metadata.spatial.clone(),
        temporal: metadata.temporal.clone(),
        accrual_periodicity: metadata.accrual_periodicity.clone(),
        landing_page: metadata.landing_page.clone(),
        attribution: metadata.attribution.clone(),
    }
}

/// Metadata from protobuf (not yet normalized).
pub fn metadata_from_proto(metadata: &pb::DatasetMetadata) -> Metadata {
    let contact = metadata.contact_point.clone().unwrap_or_default();
    Metadata {
        title: metadata.title.clone(),
        description: metadata.description.clone(),
        keywords: metadata.keywords.clone(),
        category: metadata.category.clone(),
        publisher: metadata.publisher.clone(),
        contact_name: contact.name,
        contact_email: contact.email.trim_start_matches("mailto:").to_owned(),
        license: metadata.license.clone(),
        access_level: access_level_from_proto(metadata.access_level()),
        rights: metadata.rights.clone(),
        spatial: metadata.spatial.clone(),
        temporal: metadata.temporal.clone(),
        accrual_periodicity: metadata.accrual_periodicity.clone(),
        landing_page: metadata.landing_page.clone(),
        attribution: metadata.attribution.clone(),
    }
}

/// A dataset to protobuf.
pub fn dataset_to_proto(dataset: &Dataset) -> pb::Dataset {
    pb::Dataset {
        id: dataset.id.to_string(),
        agency_id: dataset.agency_id.clone(),
        metadata: Some(metadata_to_proto(&dataset.metadata)),
        schema: Some(schema_to_proto(&dataset.schema)),
        publication_stage: stage_to_proto(dataset.stage) as i32,
        current_version: dataset.current_version,
        row_count: dataset.row_count,
        created_at: Some(to_proto(dataset.created_at)),
        metadata_updated_at: Some(to_proto(dataset.metadata_updated_at)),
        data_updated_at: to_proto_opt(dataset.data_updated_at),
        published_at: to_proto_opt(dataset.published_at),
        owner_id: dataset.owner_id.clone(),
        withheld: dataset.withheld,
    }
}

/// A version record to protobuf.
pub fn version_to_proto(version: &VersionRecord) -> pb::DatasetVersion {
    pb::DatasetVersion {
        version: version.version,
        row_count: version.row_count,
        mode: version.mode.clone(),
        upload_id: version.upload_id.clone(),
        committed_at: Some(to_proto(version.committed_at)),
        activated_at: Some(to_proto(version.activated_at)),
        schema: Some(schema_to_proto(&version.schema)),
        committed_by_id: version.committed_by_id.clone().unwrap_or_default(),
        committed_by_name: version.committed_by_name.clone().unwrap_or_default(),
        data_as_of: version.data_as_of.map(to_proto),
        kept: version.kept,
        purged_at: version.purged_at.map(to_proto),
        purged_by_name: version.purged_by_name.clone().unwrap_or_default(),
        purge_reason: version.purge_reason.clone().unwrap_or_default(),
        rows_created: version.rows_created,
        rows_updated: version.rows_updated,
        rows_deleted: version.rows_deleted,
    }
}
