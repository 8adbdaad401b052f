//! Governance's decisions applied to the catalog: whether the public sees a dataset (published, or
//! retired less than 30 days ago), its access level and rights when withheld, the "ARCHIVE" title
//! of a retired dataset, and its update frequency. Applied from governance's `review.*` events; a
//! copy of a record older than the one last applied is ignored, so repeats and reordering are
//! harmless.

use chrono::Utc;
use opendata_platform::events::{Event, EventHandler, HandlerError};
use opendata_proto::catalog::v1::DatasetChange;
use opendata_proto::common::v1::AccessLevel as PbAccessLevel;
use opendata_proto::governance::v1::{DatasetStateChanged, InventoryRecord, ReviewState};
use prost::Message as _;
use sqlx::PgPool;

use crate::convert::access_level_from_proto;
use crate::error::CatalogError;
use crate::events::emit;
use crate::model::{Dataset, Stage};
use crate::store;

/// The durable consumer of governance's review events.
pub const REVIEW_CONSUMER: &str = "catalog_review";
/// What a retired dataset's title starts with.
pub const ARCHIVE_PREFIX: &str = "ARCHIVE: ";

/// What changed when a record was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The record was older than the one already applied, or changed nothing.
    Nothing,
    /// Metadata changed; visibility did not.
    Metadata,
    /// The dataset became public or private.
    Stage(Stage),
}

/// Applies `record` to `dataset` in memory.
pub fn apply(dataset: &mut Dataset, record: &InventoryRecord) -> Applied {
    if record.revision <= dataset.governance_revision {
        return Applied::Nothing;
    }
    dataset.governance_revision = record.revision;
    let before = dataset.metadata.clone();
    let state = record.state();
    dataset.withheld = state == ReviewState::Withheld;
    match state {
        ReviewState::Withheld => {
            dataset.metadata.access_level =
                access_level_from_proto(record.access_level().as_withheld());
            dataset.metadata.rights = record.rights.clone();
        }
        ReviewState::Published => {
            dataset.metadata.access_level = access_level_from_proto(PbAccessLevel::Public);
            dataset.metadata.rights.clear();
        }
        ReviewState::Retired if !dataset.metadata.title.starts_with(ARCHIVE_PREFIX) => {
            dataset.metadata.title = format!("{ARCHIVE_PREFIX}{}", dataset.metadata.title);
        }
        _ => {}
    }
    if !record.accrual_periodicity.is_empty() {
        dataset.metadata.accrual_periodicity = record.accrual_periodicity.clone();
    }
    let stage = if record.public {
        Stage::Published
    } else {
        Stage::Private
    };
    let now = Utc::now();
    if stage != dataset.stage {
        dataset.stage = stage;
        dataset.metadata_updated_at = now;
        if stage == Stage::Published {
            dataset.published_at = Some(now);
        }
        Applied::Stage(stage)
    } else if dataset.metadata != before {
        dataset.metadata_updated_at = now;
        Applied::Metadata
    } else {
        Applied::Nothing
    }
}

/// Applies governance's review events.
pub struct ReviewApplier {
    pool: PgPool,
}

impl ReviewApplier {
    /// An applier over the catalog's pool.
    pub fn new(pool: PgPool) -> Self {
        ReviewApplier { pool }
    }

    async fn apply_record(&self, record: &InventoryRecord) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        let Some(mut dataset) = store::fetch(&mut *tx, &record.dataset_id, true).await? else {
            tracing::warn!(dataset_id = %record.dataset_id, "review decision for an unknown dataset, ignored");
            return Ok(());
        };
        let previous_revision = dataset.governance_revision;
        let change = match apply(&mut dataset, record) {
            Applied::Nothing if dataset.governance_revision == previous_revision => return Ok(()),
            Applied::Nothing => None,
            Applied::Metadata => Some(DatasetChange::MetadataUpdated),
            Applied::Stage(Stage::Published) => Some(DatasetChange::Published),
            Applied::Stage(Stage::Private) => Some(DatasetChange::Unpublished),
        };
        store::update(&mut tx, &dataset).await?;
        if let Some(change) = change {
            emit(&mut tx, change, &dataset, 0).await?;
        }
        tx.commit().await?;
        tracing::info!(
            dataset_id = %record.dataset_id,
            state = record.state().as_str_name(),
            public = record.public,
            "review decision applied"
        );
        Ok(())
    }
}

impl EventHandler for ReviewApplier {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        let changed = DatasetStateChanged::decode(event.payload)?;
        let Some(record) = changed.record else {
            return Err(HandlerError::Reject("event without a record".to_owned()));
        };
        self.apply_record(&record)
            .await
            .map_err(crate::events::handler_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessLevel, Metadata};
    use opendata_datastore::dataset_id::DatasetId;
    use opendata_datastore::schema::Schema;

    fn dataset() -> Dataset {
        Dataset {
            id: DatasetId::parse("abcd-1234").unwrap(),
            agency_id: "opm".into(),
            metadata: Metadata {
                title: "Grand List".into(),
                ..Metadata::default()
            },
            schema: Schema::default(),
            stage: Stage::Private,
            withheld: false,
            governance_revision: 0,
            current_version: 0,
            current_table: None,
            row_count: 0,
            owner_id: "p".into(),
            created_at: Utc::now(),
            metadata_updated_at: Utc::now(),
            data_updated_at: None,
            published_at: None,
        }
    }

    fn record(state: ReviewState, public: bool, revision: i64) -> InventoryRecord {
        InventoryRecord {
            dataset_id: "abcd-1234".into(),
            state: state as i32,
            public,
            revision,
            ..Default::default()
        }
    }

    #[test]
    fn publishing_withholding_and_retiring_change_what_the_public_sees() {
        let mut dataset = dataset();
        assert_eq!(
            apply(&mut dataset, &record(ReviewState::Published, true, 4)),
            Applied::Stage(Stage::Published)
        );
        assert!(dataset.published_at.is_some());
        assert_eq!(
            apply(&mut dataset, &record(ReviewState::Retired, true, 5)),
            Applied::Metadata
        );
        assert_eq!(dataset.metadata.title, "ARCHIVE: Grand List");
        let mut withheld = record(ReviewState::Withheld, false, 6);
        withheld.access_level = PbAccessLevel::NonPublic as i32;
        withheld.rights = "Contains taxpayer data (CGS 12-15)".into();
        assert_eq!(
            apply(&mut dataset, &withheld),
            Applied::Stage(Stage::Private)
        );
        assert!(dataset.withheld);
        assert_eq!(dataset.metadata.access_level, AccessLevel::NonPublic);
        assert_eq!(
            dataset.metadata.rights,
            "Contains taxpayer data (CGS 12-15)"
        );
        assert_eq!(
            dataset.metadata.title, "ARCHIVE: Grand List",
            "prefixed once"
        );
    }

    #[test]
    fn older_copies_of_a_record_are_ignored() {
        let mut dataset = dataset();
        apply(&mut dataset, &record(ReviewState::Published, true, 7));
        assert_eq!(
            apply(&mut dataset, &record(ReviewState::Approved, false, 6)),
            Applied::Nothing
        );
        assert_eq!(dataset.stage, Stage::Published);
    }
}
