//! Ingestion's events: `version_committed` and `version_purged` into the outbox, and the
//! consumer that learns from the catalog which versions stopped being current.

use chrono::{DateTime, Utc};
use opendata_datastore::convert::schema_to_proto;
use opendata_datastore::schema::Schema;
use opendata_platform::auth::Principal;
use opendata_platform::events::{Event, EventHandler, HandlerError, enqueue, subject};
use opendata_platform::timestamp::{to_proto, to_proto_opt};
use opendata_proto::catalog::v1::DatasetChanged;
use opendata_proto::common::v1::EventMeta;
use opendata_proto::ingestion::v1 as pb;
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::model::{RowChanges, Upload, UploadMode};
use crate::store;

/// The domain name of ingestion's events and stream.
pub const DOMAIN: &str = "ingestion";
/// The durable consumer of catalog events.
pub const RETIRE_CONSUMER: &str = "ingestion_retire";

/// The committed version, as announced.
pub struct Committed<'a> {
    pub upload: &'a Upload,
    /// Its schema.
    pub schema: &'a Schema,
    /// Version number.
    pub version: i64,
    pub table: &'a str,
    /// The generation table the view selects from.
    pub generation: &'a str,
    /// Rows.
    pub row_count: i64,
    /// What the commit changed.
    pub changes: RowChanges,
    /// When.
    pub committed_at: DateTime<Utc>,
    /// By whom.
    pub committed_by: &'a Principal,
}

/// Writes `version_committed` into the outbox, in the commit's transaction.
pub async fn emit_version_committed(
    conn: &mut PgConnection,
    committed: &Committed<'_>,
) -> Result<(), sqlx::Error> {
    let event_id = Uuid::now_v7();
    let mode = match committed.upload.mode {
        UploadMode::Replace => pb::UploadMode::Replace,
        UploadMode::Append => pb::UploadMode::Append,
        UploadMode::Upsert => pb::UploadMode::Upsert,
    };
    let event = pb::VersionCommitted {
        meta: Some(EventMeta {
            event_id: event_id.to_string(),
            occurred_at: Some(to_proto(committed.committed_at)),
            producer: DOMAIN.to_owned(),
        }),
        dataset_id: committed.upload.dataset_id.clone(),
        version: committed.version,
        base_version: committed.upload.base_version,
        table_name: committed.table.to_owned(),
        schema: Some(schema_to_proto(committed.schema)),
        row_count: committed.row_count,
        mode: mode as i32,
        upload_id: committed.upload.id.to_string(),
        committed_at: Some(to_proto(committed.committed_at)),
        new_schema: committed.upload.new_schema,
        data_as_of: to_proto_opt(committed.upload.data_as_of),
        committed_by_id: committed.committed_by.id.clone(),
        committed_by_name: committed.committed_by.name.clone(),
        generation: committed.generation.to_owned(),
        rows_created: committed.changes.created,
        rows_updated: committed.changes.updated,
        rows_deleted: committed.changes.deleted,
    };
    enqueue(
        conn,
        &subject(DOMAIN, "version_committed"),
        event_id,
        event.encode_to_vec(),
    )
    .await
}

/// A purge, as announced.
pub struct Purge<'a> {
    pub dataset_id: &'a str,
    /// The purged version.
    pub version: i64,
    /// Why.
    pub reason: &'a str,
    /// Who.
    pub purged_by: &'a Principal,
    /// When.
    pub purged_at: DateTime<Utc>,
}

/// Writes `version_purged` into the outbox, in the purge's transaction.
pub async fn emit_version_purged(
    conn: &mut PgConnection,
    purge: &Purge<'_>,
) -> Result<(), sqlx::Error> {
    let event_id = Uuid::now_v7();
    let event = pb::VersionPurged {
        meta: Some(EventMeta {
            event_id: event_id.to_string(),
            occurred_at: Some(to_proto(purge.purged_at)),
            producer: DOMAIN.to_owned(),
        }),
        dataset_id: purge.dataset_id.to_owned(),
        version: purge.version,
        reason: purge.reason.to_owned(),
        purged_by_id: purge.purged_by.id.clone(),
        purged_by_name: purge.purged_by.name.clone(),
        purged_at: Some(to_proto(purge.purged_at)),
    };
    enqueue(
        conn,
        &subject(DOMAIN, "version_purged"),
        event_id,
        event.encode_to_vec(),
    )
    .await
}

/// Marks versions older than the catalog's current one as retired; the janitor drops their tables
/// after a grace period. Applying an event twice changes nothing.
pub struct VersionRetirer {
    pool: PgPool,
}

impl VersionRetirer {
    /// A retirer over ingestion's pool.
    pub fn new(pool: PgPool) -> Self {
        VersionRetirer { pool }
    }
}

impl EventHandler for VersionRetirer {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        if event.name != "dataset_data_updated" {
            return Ok(());
        }
        let changed = DatasetChanged::decode(event.payload)?;
        let Some(dataset) = changed.dataset else {
            return Err(HandlerError::Reject(
                "dataset_data_updated without a dataset".to_owned(),
            ));
        };
        store::retire_versions_before(&self.pool, &dataset.id, dataset.current_version).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use opendata_datastore::schema::{Column, ColumnType, Schema};
    use opendata_limits::{COLUMNS, EVENT_BYTES, SCHEMA_BYTES};

    use super::*;

    #[test]
    fn the_largest_version_event_fits_on_the_bus() {
        // Every column as documented as the limits allow: the schema's bytes spread evenly, with
        // the longest field names, in four-byte characters where characters are counted.
        let per_column = SCHEMA_BYTES.get() / COLUMNS.get();
        let columns = (0..COLUMNS.get())
            .map(|index| {
                let field_name = format!("c{index:0>62}");
                let display_name = "𝕏".repeat((per_column - field_name.len()) / 4);
                Column::new(&field_name, &display_name, ColumnType::Location)
            })
            .collect();
        let schema = Schema {
            columns,
            row_identifier: Some(format!("c{:0>62}", 0)),
        };
        schema.check_limits().unwrap();
        let event = pb::VersionCommitted {
            meta: Some(EventMeta {
                event_id: Uuid::now_v7().to_string(),
                occurred_at: Some(to_proto(Utc::now())),
                producer: DOMAIN.to_owned(),
            }),
            dataset_id: "abcd-1234".to_owned(),
            version: i64::MAX,
            base_version: i64::MAX,
            table_name: "x".repeat(63),
            schema: Some(schema_to_proto(&schema)),
            row_count: i64::MAX,
            mode: pb::UploadMode::Upsert as i32,
            upload_id: Uuid::now_v7().to_string(),
            committed_at: Some(to_proto(Utc::now())),
            new_schema: true,
            data_as_of: Some(to_proto(Utc::now())),
            committed_by_id: Uuid::now_v7().to_string(),
            // Four bytes a character, the most UTF-8 takes.
            committed_by_name: "𝕏".repeat(opendata_limits::TEXT_NAME.get()),
            generation: "x".repeat(63),
            rows_created: i64::MAX,
            rows_updated: i64::MAX,
            rows_deleted: i64::MAX,
        };
        let bytes = event.encode_to_vec().len();
        assert!(
            bytes <= EVENT_BYTES.get(),
            "the largest VersionCommitted takes {bytes} bytes"
        );
    }
}
