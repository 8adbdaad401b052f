//! SQL over ingestion's tables: uploads, staged chunks, rejections and versions, checked at compile
//! time against the migrations (`sqlx::query!`, see `scripts/sqlx-prepare.sh`); and the few
//! statements over dataset tables that are not a commit's (`crate::commit`): creating a working
//! table, dropping a table. Functions take an executor so callers choose the transaction.

use chrono::{DateTime, Utc};
use opendata_datastore::encode::Rejection;
use opendata_datastore::schema::Schema;
use opendata_datastore::table::{
    FROM_VERSION_COLUMN, TO_VERSION_COLUMN, create_sequence_sql, create_table_sql, qualified,
    quote_ident,
};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::retention::KeepPolicy;

use crate::error::IngestionError;
use crate::model::{RowChanges, Upload, UploadMode, UploadState};

struct UploadRow {
    id: Uuid,
    dataset_id: String,
    agency_id: String,
    mode: String,
    state: String,
    max_rejected_fraction: f64,
    infer_schema: bool,
    schema: Option<Json<Schema>>,
    inferred_schema: Option<Json<Schema>>,
    file_columns: Option<Vec<String>>,
    base_version: i64,
    version: Option<i64>,
    working_table: String,
    rows_received: i64,
    rows_loaded: i64,
    rows_rejected: i64,
    bytes_received: i64,
    load_millis: i64,
    index_millis: i64,
    error: String,
    created_by: String,
    created_at: DateTime<Utc>,
    committed_at: Option<DateTime<Utc>>,
    new_schema: bool,
    data_as_of: Option<DateTime<Utc>>,
    allow_empty: bool,
    rows_created: i64,
    rows_updated: i64,
    rows_deleted: i64,
}

impl From<UploadRow> for Upload {
    fn from(row: UploadRow) -> Upload {
        Upload {
            id: row.id,
            dataset_id: row.dataset_id,
            agency_id: row.agency_id,
            // The column's CHECK constraint admits only known modes.
            mode: UploadMode::parse(&row.mode).unwrap_or(UploadMode::Replace),
            state: UploadState::parse(&row.state),
            max_rejected_fraction: row.max_rejected_fraction,
            infer_schema: row.infer_schema,
            schema: row.schema.map(|s| s.0),
            inferred_schema: row.inferred_schema.map(|s| s.0),
            file_columns: row.file_columns.unwrap_or_default(),
            base_version: row.base_version,
            version: row.version,
            working_table: row.working_table,
            rows_received: row.rows_received,
            rows_loaded: row.rows_loaded,
            rows_rejected: row.rows_rejected,
            bytes_received: row.bytes_received,
            load_millis: row.load_millis,
            index_millis: row.index_millis,
            error: row.error,
            created_by: row.created_by,
            created_at: row.created_at,
            committed_at: row.committed_at,
            new_schema: row.new_schema,
            data_as_of: row.data_as_of,
            allow_empty: row.allow_empty,
            changes: RowChanges {
                created: row.rows_created,
                updated: row.rows_updated,
                deleted: row.rows_deleted,
            },
        }
    }
}

/// Records a new upload.
pub async fn insert_upload(
    executor: impl PgExecutor<'_>,
    upload: &Upload,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO uploads (id, dataset_id, agency_id, mode, state, max_rejected_fraction, infer_schema, schema, \
         base_version, working_table, created_by, new_schema, data_as_of, allow_empty) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        upload.id,
        upload.dataset_id,
        upload.agency_id,
        upload.mode.as_str(),
        upload.state.as_str(),
        upload.max_rejected_fraction,
        upload.infer_schema,
        upload.schema.as_ref().map(Json) as _,
        upload.base_version,
        upload.working_table,
        upload.created_by,
        upload.new_schema,
        upload.data_as_of,
        upload.allow_empty,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// One upload, locked for update when `for_update`.
pub async fn fetch_upload(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    for_update: bool,
) -> Result<Option<Upload>, sqlx::Error> {
    let row = if for_update {
        sqlx::query_as!(
            UploadRow,
            r#"SELECT id, dataset_id, agency_id, mode, state, max_rejected_fraction, infer_schema,
                  schema AS "schema: Json<Schema>",
                  inferred_schema AS "inferred_schema: Json<Schema>", file_columns, base_version,
                  version, working_table, rows_received, rows_loaded, rows_rejected,
                  bytes_received, load_millis, index_millis, error, created_by, created_at,
                  committed_at, new_schema, data_as_of, allow_empty, rows_created, rows_updated, rows_deleted
               FROM uploads WHERE id = $1 FOR UPDATE"#,
            id,
        )
        .fetch_optional(executor)
        .await?
    } else {
        sqlx::query_as!(
            UploadRow,
            r#"SELECT id, dataset_id, agency_id, mode, state, max_rejected_fraction, infer_schema,
                  schema AS "schema: Json<Schema>",
                  inferred_schema AS "inferred_schema: Json<Schema>", file_columns, base_version,
                  version, working_table, rows_received, rows_loaded, rows_rejected,
                  bytes_received, load_millis, index_millis, error, created_by, created_at,
                  committed_at, new_schema, data_as_of, allow_empty, rows_created, rows_updated, rows_deleted
               FROM uploads WHERE id = $1"#,
            id,
        )
        .fetch_optional(executor)
        .await?
    };
    Ok(row.map(Upload::from))
}

/// Moves an upload from one state to another if it is still in `from`; returns whether it moved.
pub async fn transition(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    from: UploadState,
    to: UploadState,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query!(
        "UPDATE uploads SET state = $3, updated_at = now() WHERE id = $1 AND state = $2",
        id,
        from.as_str(),
        to.as_str(),
    )
    .execute(executor)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// Progress of a load, saved as it goes and at the end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Data rows read.
    pub rows_received: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Time spent.
    pub load_millis: u64,
}

/// Saves the progress of a load (and shows the upload is alive); false when the upload is no
/// longer receiving (abandoned or expired meanwhile), in which case the load must stop.
pub async fn save_progress(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    progress: Progress,
) -> Result<bool, sqlx::Error> {
    let saved = sqlx::query!(
        "UPDATE uploads SET rows_received = $2, rows_loaded = $3, rows_rejected = $4, bytes_received = $5, \
         load_millis = $6, updated_at = now() WHERE id = $1 AND state = 'receiving'",
        id,
        progress.rows_received as i64,
        progress.rows_loaded as i64,
        progress.rows_rejected as i64,
        progress.bytes_received as i64,
        progress.load_millis as i64,
    )
    .execute(executor)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// Marks the end of a load: its final progress, the file's columns, the schema used or inferred,
/// and the state it moves to (`loaded` or `awaiting_schema`). Fails with [`IngestionError::Closed`]
/// when the upload was abandoned or expired while it was receiving.
pub async fn finish_load(
    pool: &sqlx::PgPool,
    id: Uuid,
    progress: Progress,
    file_columns: &[String],
    schema: Option<&Schema>,
    inferred: Option<&Schema>,
    state: UploadState,
) -> Result<(), IngestionError> {
    let mut tx = pool.begin().await?;
    if !save_progress(&mut *tx, id, progress).await? {
        return Err(IngestionError::Closed);
    }
    sqlx::query!(
        "UPDATE uploads SET file_columns = $2, schema = coalesce($3, schema), \
         inferred_schema = coalesce($4, inferred_schema), state = $5 WHERE id = $1",
        id,
        file_columns,
        schema.map(Json) as _,
        inferred.map(Json) as _,
        state.as_str(),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks an open upload failed (or abandoned) with a reason; its table is dropped by the janitor.
pub async fn close_upload(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    state: UploadState,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE uploads SET state = $2, error = $3, updated_at = now() \
         WHERE id = $1 AND state IN ('created', 'receiving', 'awaiting_schema', 'loaded')",
        id,
        state.as_str(),
        error,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Stores rejected rows.
pub async fn insert_rejections(
    executor: impl PgExecutor<'_>,
    upload_id: Uuid,
    rejections: &[Rejection],
) -> Result<(), sqlx::Error> {
    if rejections.is_empty() {
        return Ok(());
    }
    let lines: Vec<i64> = rejections.iter().map(|r| r.line as i64).collect();
    let columns: Vec<&str> = rejections.iter().map(|r| r.column.as_str()).collect();
    let values: Vec<&str> = rejections.iter().map(|r| r.value.as_str()).collect();
    let reasons: Vec<&str> = rejections.iter().map(|r| r.reason.as_str()).collect();
    sqlx::query!(
        "INSERT INTO rejections (upload_id, line, column_name, value, reason) \
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING",
        upload_id,
        &lines,
        &columns as &[&str],
        &values as &[&str],
        &reasons as &[&str],
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Rejected rows after a line, in file order.
pub async fn rejections(
    executor: impl PgExecutor<'_>,
    upload_id: Uuid,
    after_line: u64,
    limit: i64,
) -> Result<Vec<Rejection>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT line, column_name, value, reason FROM rejections WHERE upload_id = $1 AND line > $2 ORDER BY line LIMIT $3",
        upload_id,
        after_line as i64,
        limit,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Rejection {
            line: row.line as u64,
            column: row.column_name,
            value: row.value,
            reason: row.reason,
        })
        .collect())
}

/// Stores one chunk of a file whose schema is being inferred.
pub async fn save_chunk(
    executor: impl PgExecutor<'_>,
    upload_id: Uuid,
    seq: i64,
    data: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO upload_chunks (upload_id, seq, data) VALUES ($1, $2, $3)",
        upload_id,
        seq,
        data,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The next staged chunk after `seq`.
pub async fn next_chunk(
    executor: impl PgExecutor<'_>,
    upload_id: Uuid,
    after_seq: i64,
) -> Result<Option<(i64, Vec<u8>)>, sqlx::Error> {
    let chunk = sqlx::query!(
        "SELECT seq, data FROM upload_chunks WHERE upload_id = $1 AND seq > $2 ORDER BY seq LIMIT 1",
        upload_id,
        after_seq,
    )
    .fetch_optional(executor)
    .await?;
    Ok(chunk.map(|chunk| (chunk.seq, chunk.data)))
}

/// Deletes an upload's staged chunks.
pub async fn delete_chunks(
    executor: impl PgExecutor<'_>,
    upload_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM upload_chunks WHERE upload_id = $1", upload_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// The latest committed version of a dataset.
#[derive(Debug, Clone, Default)]
pub struct LatestVersion {
    /// Version number, 0 before the first.
    pub version: i64,
    /// Its table (a view of its generation, since generations).
    pub table: Option<String>,
    /// Its generation table; none before generations.
    pub generation: Option<String>,
    /// Its rows.
    pub row_count: i64,
    /// The schema its rows were written with.
    pub schema: Option<Schema>,
}

/// The latest committed version of a dataset.
pub async fn latest_version(
    conn: &mut PgConnection,
    dataset_id: &str,
) -> Result<LatestVersion, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT version, table_name, generation, row_count, schema AS "schema: Json<Schema>" FROM versions
           WHERE dataset_id = $1 ORDER BY version DESC LIMIT 1"#,
        dataset_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(
        row.map_or_else(LatestVersion::default, |row| LatestVersion {
            version: row.version,
            table: Some(row.table_name),
            generation: row.generation,
            row_count: row.row_count,
            schema: row.schema.map(|s| s.0),
        }),
    )
}

/// Takes the lock that orders a dataset's commits, for the rest of the transaction.
pub async fn lock_versions(conn: &mut PgConnection, dataset_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('opendata-version:' || $1))")
        .bind(dataset_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A version being committed.
pub struct NewVersion<'a> {
    pub dataset_id: &'a str,
    pub version: i64,
    /// Its view (its table, before generations) in the `data` schema.
    pub table: &'a str,
    /// The generation table the view selects from.
    pub generation: &'a str,
    pub upload_id: Uuid,
    pub row_count: i64,
    pub committed_at: DateTime<Utc>,
    /// The schema its rows were written with.
    pub schema: &'a Schema,
}

/// Records a committed version.
pub async fn record_version(
    conn: &mut PgConnection,
    version: &NewVersion<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO versions (dataset_id, version, table_name, generation, upload_id, row_count, \
         committed_at, schema) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        version.dataset_id,
        version.version,
        version.table,
        version.generation,
        version.upload_id,
        version.row_count,
        version.committed_at,
        Json(version.schema) as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks an upload committed as `version` (its working table became the version's).
pub async fn mark_committed(
    conn: &mut PgConnection,
    upload_id: Uuid,
    version: i64,
    committed_at: DateTime<Utc>,
    index_millis: i64,
    changes: RowChanges,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE uploads SET state = 'committed', version = $2, committed_at = $3, index_millis = $4, \
         table_dropped = true, updated_at = now(), rows_created = $5, rows_updated = $6, \
         rows_deleted = $7 WHERE id = $1",
        upload_id,
        version,
        committed_at,
        index_millis,
        changes.created,
        changes.updated,
        changes.deleted,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates an upload's working table in the `data` schema (and its dataset's row-id sequence).
pub async fn create_working_table(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
) -> Result<(), sqlx::Error> {
    sqlx::query(&create_sequence_sql(&upload.dataset_id))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&create_table_sql(
        &upload.working_table,
        &upload.dataset_id,
        schema,
    ))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Open uploads idle too long: receiving ones silent for `receive_idle_secs`, loaded ones (or
/// awaiting a schema) not committed within `uncommitted_secs`; with their state.
pub async fn idle_uploads(
    executor: impl PgExecutor<'_>,
    receive_idle_secs: f64,
    uncommitted_secs: f64,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, state FROM uploads WHERE \
         (state IN ('created', 'receiving') AND updated_at < now() - make_interval(secs => $1)) OR \
         (state IN ('awaiting_schema', 'loaded') AND updated_at < now() - make_interval(secs => $2))",
        receive_idle_secs,
        uncommitted_secs,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.state)).collect())
}

/// Failed and abandoned uploads whose working table is still there, with the table.
pub async fn closed_uploads_with_tables(
    executor: impl PgExecutor<'_>,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, working_table FROM uploads \
         WHERE state IN ('failed', 'abandoned') AND NOT table_dropped",
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, row.working_table))
        .collect())
}

/// Marks an upload's working table dropped.
pub async fn mark_table_dropped(
    executor: impl PgExecutor<'_>,
    upload_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE uploads SET table_dropped = true WHERE id = $1",
        upload_id
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Marks the versions of a dataset older than `current` retired (their tables are dropped after a
/// grace period).
pub async fn retire_versions_before(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    current: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE versions SET retired_at = now() \
         WHERE dataset_id = $1 AND version < $2 AND retired_at IS NULL",
        dataset_id,
        current,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Versions past retention, not dropped yet: replaced more than `grace_secs` ago and more than
/// the dataset's `keep_days` ago, with at least its `keep_versions` newer versions that were not
/// purged (the dataset's own policy, else `default`). Only `dataset`'s, and only `version`, when
/// given (the janitor asks again under the dataset's lock before it drops one).
pub async fn past_retention(
    executor: impl PgExecutor<'_>,
    grace_secs: f64,
    default: &KeepPolicy,
    only: Option<(&str, i64)>,
) -> Result<Vec<StoredVersion>, sqlx::Error> {
    let (dataset, version) = only.unzip();
    sqlx::query_as!(
        StoredVersion,
        r#"SELECT v.dataset_id AS "dataset_id!", v.version AS "version!",
                  v.table_name AS "table_name!", v.generation
           FROM (SELECT *, count(*) FILTER (WHERE purged_at IS NULL) OVER (
                     PARTITION BY dataset_id ORDER BY version DESC
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newer
                 FROM versions WHERE $4::text IS NULL OR dataset_id = $4) v
           LEFT JOIN retention_policies p ON p.dataset_id = v.dataset_id
           WHERE v.dropped_at IS NULL AND ($5::bigint IS NULL OR v.version = $5)
             AND v.retired_at < now() - make_interval(secs => $1)
             AND v.retired_at < now() - make_interval(days => coalesce(p.keep_days, $2))
             AND v.newer >= coalesce(p.keep_versions, $3)"#,
        grace_secs,
        default.keep_days,
        default.keep_versions,
        dataset,
        version,
    )
    .fetch_all(executor)
    .await
}

/// A committed version as storage holds it.
pub struct StoredVersion {
    pub dataset_id: String,
    pub version: i64,
    /// Its view (its table, before generations).
    pub table_name: String,
    /// Its generation table; none before generations.
    pub generation: Option<String>,
}

/// Drops a version in the caller's transaction: its view, and then the generation's rows only it
/// held (or the generation, when it has no kept version left); before generations, its table.
/// Whether it went (false when a reader still holds it, and then the transaction is aborted).
pub async fn drop_version(
    conn: &mut PgConnection,
    version: &StoredVersion,
) -> Result<bool, sqlx::Error> {
    let Some(generation) = &version.generation else {
        return drop_data_table(conn, &version.table_name).await;
    };
    if !drop_data_view(conn, &version.table_name).await? {
        return Ok(false);
    }
    match kept_neighbours(&mut *conn, generation, version.version).await? {
        (None, None) => drop_data_table(conn, generation).await,
        (below, above) => {
            prune_generation(conn, generation, version.version, below, above).await?;
            Ok(true)
        }
    }
}

/// The kept versions of `generation` nearest to `version`: the newest below it and the oldest
/// above it.
async fn kept_neighbours(
    executor: impl PgExecutor<'_>,
    generation: &str,
    version: i64,
) -> Result<(Option<i64>, Option<i64>), sqlx::Error> {
    let row = sqlx::query!(
        "SELECT max(version) FILTER (WHERE version < $2) AS below, \
                min(version) FILTER (WHERE version > $2) AS above \
         FROM versions WHERE generation = $1 AND dropped_at IS NULL",
        generation,
        version,
    )
    .fetch_one(executor)
    .await?;
    Ok((row.below, row.above))
}

/// Deletes the rows of `generation` that `version` held and neither kept neighbour holds: a row
/// is held by version `k` when `:from_version <= k < :to_version`, a null `:to_version` reaching
/// past every version of the generation. Only the dropped version's rows are read. How many
/// went.
async fn prune_generation(
    conn: &mut PgConnection,
    generation: &str,
    version: i64,
    below: Option<i64>,
    above: Option<i64>,
) -> Result<u64, sqlx::Error> {
    let from = quote_ident(FROM_VERSION_COLUMN);
    let to = quote_ident(TO_VERSION_COLUMN);
    Ok(sqlx::query(&format!(
        "DELETE FROM {} WHERE {from} <= $1 AND ({to} IS NULL OR {to} > $1) \
         AND {from} > coalesce($2, 0) AND ($3::bigint IS NULL OR {to} <= $3)",
        qualified(generation)
    ))
    .bind(version)
    .bind(below)
    .bind(above)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Drops a view of the `data` schema in the caller's transaction, waiting at most 2 s for it (see
/// [`drop_data_table`]). Whether it was dropped.
pub async fn drop_data_view(conn: &mut PgConnection, view: &str) -> Result<bool, sqlx::Error> {
    drop_relation(conn, "VIEW", view).await
}

/// Marks a version dropped (its view, or its table before generations).
pub async fn mark_version_dropped(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE versions SET dropped_at = now() WHERE dataset_id = $1 AND version = $2",
        dataset_id,
        version,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Drops a table of the `data` schema in the caller's transaction, waiting at most 2 s for it:
/// a long export may still be reading it, and the caller tries again later. Whether it was
/// dropped; a lock timeout aborts the transaction.
pub async fn drop_data_table(conn: &mut PgConnection, table: &str) -> Result<bool, sqlx::Error> {
    drop_relation(conn, "TABLE", table).await
}

/// `DROP <kind> IF EXISTS` of `name` in the `data` schema, waiting at most 2 s for it.
async fn drop_relation(
    conn: &mut PgConnection,
    kind: &'static str,
    table: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query("SET LOCAL lock_timeout = '2s'")
        .execute(&mut *conn)
        .await?;
    match sqlx::query(&format!("DROP {kind} IF EXISTS {}", qualified(table)))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => Ok(true),
        Err(error) => {
            tracing::info!(kind, table, %error, "still in use, dropped later");
            Ok(false)
        }
    }
}
