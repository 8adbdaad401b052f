//! The catalog's events: `DatasetChanged` into the outbox with every change, and the consumer that
//! makes ingestion's committed versions current.

use chrono::Utc;
use opendata_datastore::convert::schema_from_proto;
use opendata_datastore::schema::Schema;
use opendata_platform::events::{Event, EventHandler, HandlerError, claim, enqueue, subject};
use opendata_platform::timestamp::from_proto;
use opendata_proto::catalog::v1::{DatasetChange, DatasetChanged};
use opendata_proto::common::v1::EventMeta;
use opendata_proto::ingestion::v1::{UploadMode, VersionCommitted};
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::convert::dataset_to_proto;
use crate::error::CatalogError;
use crate::model::Dataset;
use crate::store;

/// The domain name of the catalog's events and stream.
pub const DOMAIN: &str = "catalog";
/// The durable consumer of ingestion events.
pub const VERSION_CONSUMER: &str = "catalog_versions";

fn event_name(change: DatasetChange) -> &'static str {
    match change {
        DatasetChange::Created => "dataset_created",
        DatasetChange::MetadataUpdated => "dataset_updated",
        DatasetChange::DataUpdated => "dataset_data_updated",
        DatasetChange::Published => "dataset_published",
        DatasetChange::Unpublished => "dataset_unpublished",
        DatasetChange::Deleted => "dataset_deleted",
        DatasetChange::Unspecified => "dataset_changed",
    }
}

/// The `DatasetChanged` event of a change: the dataset without its columns, whose documentation
/// may run to [`opendata_limits::SCHEMA_BYTES`]; consumers that need them ask the catalog. Every
/// other field has a limit, so the event stays under [`opendata_limits::EVENT_BYTES`].
pub fn changed(
    event_id: Uuid,
    change: DatasetChange,
    dataset: &Dataset,
    previous_version: i64,
) -> DatasetChanged {
    let mut dataset = dataset_to_proto(dataset);
    dataset.schema = None;
    DatasetChanged {
        meta: Some(EventMeta {
            event_id: event_id.to_string(),
            occurred_at: Some(opendata_platform::timestamp::to_proto(Utc::now())),
            producer: DOMAIN.to_owned(),
        }),
        change: change as i32,
        dataset: Some(dataset),
        previous_version,
    }
}

/// Writes a `DatasetChanged` event into the outbox, in the caller's transaction.
pub async fn emit(
    conn: &mut PgConnection,
    change: DatasetChange,
    dataset: &Dataset,
    previous_version: i64,
) -> Result<(), sqlx::Error> {
    let event_id = Uuid::now_v7();
    let event = changed(event_id, change, dataset, previous_version);
    enqueue(
        conn,
        &subject(DOMAIN, event_name(change)),
        event_id,
        event.encode_to_vec(),
    )
    .await
}

/// Applies `version_committed` events: the version becomes current, atomically for readers.
pub struct VersionActivator {
    pool: PgPool,
}

impl VersionActivator {
    /// An activator over the catalog's pool.
    pub fn new(pool: PgPool) -> Self {
        VersionActivator { pool }
    }

    async fn activate(
        &self,
        event_id: Uuid,
        committed: VersionCommitted,
    ) -> Result<(), HandlerError> {
        let mut tx = self.pool.begin().await?;
        if !claim(&mut tx, VERSION_CONSUMER, event_id).await? {
            return Ok(());
        }
        let Some(mut dataset) = store::fetch(&mut *tx, &committed.dataset_id, true)
            .await
            .map_err(handler_error)?
        else {
            tracing::warn!(dataset_id = %committed.dataset_id, "version committed for an unknown dataset, ignored");
            tx.commit().await?;
            return Ok(());
        };
        if committed.version <= dataset.current_version {
            tracing::info!(dataset_id = %committed.dataset_id, version = committed.version, "stale version event ignored");
            tx.commit().await?;
            return Ok(());
        }
        let schema = committed
            .schema
            .as_ref()
            .map(schema_from_proto)
            .transpose()
            .map_err(|error| HandlerError::Reject(format!("version schema is invalid: {error}")))?
            .unwrap_or_else(|| dataset.schema.clone());
        let schema = keep_documentation(schema, &dataset.schema, committed.new_schema);
        let schema = store::assign_column_ids(&mut tx, schema, &dataset.schema)
            .await
            .map_err(handler_error)?;
        let committed_at = committed
            .committed_at
            .as_ref()
            .and_then(from_proto)
            .unwrap_or_else(Utc::now);
        // The data counts as updated when it was current: the extract's date when the upload gave
        // one, else the commit.
        let data_as_of = committed
            .data_as_of
            .as_ref()
            .and_then(from_proto)
            .unwrap_or(committed_at);
        let mode = match committed.mode() {
            UploadMode::Replace => "replace",
            UploadMode::Append => "append",
            UploadMode::Upsert => "upsert",
            UploadMode::Unspecified => "unknown",
        };
        store::activate_version(
            &mut tx,
            &store::Activated {
                dataset_id: &committed.dataset_id,
                version: committed.version,
                table_name: &committed.table_name,
                schema: &schema,
                row_count: committed.row_count,
                mode,
                upload_id: &committed.upload_id,
                committed_at,
                data_as_of,
                committed_by_id: &committed.committed_by_id,
                committed_by_name: &committed.committed_by_name,
                generation: (!committed.generation.is_empty())
                    .then_some(committed.generation.as_str()),
                changes: [
                    committed.rows_created,
                    committed.rows_updated,
                    committed.rows_deleted,
                ],
            },
        )
        .await?;
        let previous_version = dataset.current_version;
        dataset.current_version = committed.version;
        dataset.current_table = Some(committed.table_name.clone());
        dataset.schema = schema;
        dataset.row_count = committed.row_count;
        dataset.data_updated_at = Some(data_as_of);
        emit(
            &mut tx,
            DatasetChange::DataUpdated,
            &dataset,
            previous_version,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(dataset_id = %committed.dataset_id, version = committed.version, rows = committed.row_count, "version activated");
        Ok(())
    }
}

/// The catalog owns column documentation. When the version kept the dataset's columns, display
/// names, descriptions and index flags stay as the catalog has them now (edits made while the upload
/// ran included); a new schema brings its own, falling back to the catalog's for empty
/// descriptions of columns that keep their field name.
fn keep_documentation(mut schema: Schema, current: &Schema, new_schema: bool) -> Schema {
    for column in &mut schema.columns {
        let Some(old) = current.column(&column.field_name) else {
            continue;
        };
        if !new_schema {
            column.display_name = old.display_name.clone();
            column.description = old.description.clone();
            column.indexed = old.indexed;
        } else if column.description.is_empty() {
            column.description = old.description.clone();
        }
    }
    schema
}

/// A failure applying an event: a database that says the deployment is broken stops the
/// consumer (see `HandlerError::Fatal`); anything else is retried.
pub(crate) fn handler_error(error: CatalogError) -> HandlerError {
    match error {
        CatalogError::Database(error) => HandlerError::from(error),
        other => HandlerError::Retry(other.to_string()),
    }
}

impl EventHandler for VersionActivator {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        if event.name != "version_committed" {
            return Ok(());
        }
        let committed = VersionCommitted::decode(event.payload)?;
        self.activate(event.id, committed).await
    }
}

#[cfg(test)]
mod tests {
    use opendata_datastore::dataset_id::DatasetId;
    use opendata_datastore::schema::{Column, ColumnType};
    use opendata_limits::{
        COLUMNS, EVENT_BYTES, KEYWORD_CHARS, KEYWORDS, Limit, TEXT_DESCRIPTION, TEXT_LINE,
        TEXT_NAME, TEXT_PARAGRAPH, TEXT_URL,
    };

    use super::*;
    use crate::model::{AccessLevel, Metadata, Stage};

    /// Text as long as `limit` allows, in four-byte characters: the most bytes it can take.
    fn widest(limit: Limit) -> String {
        if limit.unit == "bytes" {
            "u".repeat(limit.get())
        } else {
            "𝕏".repeat(limit.get())
        }
    }

    #[test]
    fn the_largest_dataset_event_fits_on_the_bus() {
        let metadata = Metadata {
            title: widest(TEXT_LINE),
            description: widest(TEXT_DESCRIPTION),
            keywords: (0..KEYWORDS.get()).map(|_| widest(KEYWORD_CHARS)).collect(),
            category: widest(TEXT_NAME),
            publisher: widest(TEXT_NAME),
            contact_name: widest(TEXT_NAME),
            contact_email: widest(TEXT_URL),
            license: widest(TEXT_URL),
            access_level: AccessLevel::NonPublic,
            rights: widest(TEXT_LINE),
            spatial: widest(TEXT_NAME),
            temporal: widest(TEXT_NAME),
            accrual_periodicity: widest(TEXT_NAME),
            landing_page: widest(TEXT_URL),
            attribution: widest(TEXT_NAME),
        };
        let column = |index: usize| Column {
            description: widest(TEXT_PARAGRAPH),
            ..Column::new(&format!("c{index}"), &widest(TEXT_NAME), ColumnType::Text)
        };
        let dataset = Dataset {
            id: DatasetId::generate(),
            agency_id: widest(TEXT_NAME),
            metadata,
            schema: Schema {
                columns: (0..COLUMNS.get()).map(column).collect(),
                row_identifier: None,
            },
            stage: Stage::Published,
            withheld: true,
            governance_revision: i64::MAX,
            current_version: i64::MAX,
            current_table: Some(widest(TEXT_NAME)),
            row_count: i64::MAX,
            owner_id: Uuid::now_v7().to_string(),
            created_at: Utc::now(),
            metadata_updated_at: Utc::now(),
            data_updated_at: Some(Utc::now()),
            published_at: Some(Utc::now()),
        };
        let event = changed(
            Uuid::now_v7(),
            DatasetChange::DataUpdated,
            &dataset,
            i64::MAX,
        );
        let bytes = event.encode_to_vec().len();
        assert!(
            bytes <= EVENT_BYTES.get(),
            "the largest DatasetChanged takes {bytes} bytes"
        );
        assert!(
            event
                .dataset
                .is_some_and(|dataset| dataset.schema.is_none())
        );
    }
}
