//! Committing an upload, in one transaction: its rows go into the dataset's generation table and
//! the new version's view selects them; the version is recorded and `version_committed` goes into
//! the outbox. Readers see the previous version until the catalog switches to the new one; a
//! failure leaves nothing behind.
//!
//! A replace (or an upload bringing its own schema, or the first after versions had tables of
//! their own) starts a generation: the working table becomes it, with the previous version's rows
//! merged in for appends and upserts, and its indexes are built. Otherwise the generation grows
//! by the change alone: an append inserts its rows; an upsert closes the live rows it changes
//! (their `:to_version` becomes the new version) and inserts their new values and its new rows,
//! leaving unchanged rows as they are; a row whose `:deleted` is true only closes the live row.
//! So storage grows with the changes, not with copies. Each path counts the rows it created,
//! changed and deleted, as Socrata's write API reports them.

use std::time::Instant;

use opendata_datastore::schema::Schema;
use opendata_datastore::table::{
    CREATED_AT_COLUMN, FROM_VERSION_COLUMN, ID_COLUMN, TO_VERSION_COLUMN, UPDATED_AT_COLUMN,
    generation_index_sqls, generation_table, grant_read_sql, qualified, quote_ident, version_table,
    version_view_sql,
};
use sqlx::PgConnection;

use crate::error::IngestionError;
use crate::model::{DELETED_COLUMN, RowChanges, Upload, UploadMode};
use crate::upsert::{upsert, upsert_in_generation, upsert_into_nothing};

/// The version a commit produced.
pub struct BuiltVersion {
    /// Its view in the `data` schema.
    pub table: String,
    /// The generation table the view selects from.
    pub generation: String,
    /// Rows in it.
    pub row_count: i64,
    /// Time spent building indexes: a new generation's; 0 when the version went into its base's
    /// generation, whose indexes exist.
    pub index_millis: u64,
    /// Rows created, changed and deleted.
    pub changes: RowChanges,
}

/// The version an upload builds on.
pub struct Base<'a> {
    /// Its view (its table, before generations).
    pub table: &'a str,
    /// Its generation table; none before generations.
    pub generation: Option<&'a str>,
    /// Its rows.
    pub row_count: i64,
}

/// Builds version `version` of the upload's dataset from its working table and, for appends and
/// upserts, the `base` version. Runs inside the caller's transaction.
pub async fn build_version(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    version: i64,
    base: Option<Base<'_>>,
) -> Result<BuiltVersion, IngestionError> {
    let view = version_table(&upload.dataset_id, version);
    let system = [ID_COLUMN, CREATED_AT_COLUMN, UPDATED_AT_COLUMN]
        .map(quote_ident)
        .join(", ");
    let user: Vec<String> = schema
        .columns
        .iter()
        .map(|c| quote_ident(&c.field_name))
        .collect();
    let all = format!("{system}, {}", user.join(", "));
    let same_generation = match &base {
        Some(Base {
            generation: Some(generation),
            ..
        }) if upload.mode != UploadMode::Replace && !upload.new_schema => Some(*generation),
        _ => None,
    };
    let (generation, index_millis, row_count, changes) = match (same_generation, &base) {
        (Some(generation), Some(base)) => {
            // Counted as they were written.
            let changes = match upload.mode {
                UploadMode::Upsert => {
                    upsert_in_generation(conn, upload, schema, generation, version).await?
                }
                _ => append_to_generation(conn, upload, schema, generation, version, &all).await?,
            };
            let row_count = base.row_count + changes.created - changes.deleted;
            (generation.to_owned(), 0, row_count, changes)
        }
        _ => {
            let generation = generation_table(&upload.dataset_id, version);
            let (index_millis, row_count, changes) = start_generation(
                conn,
                upload,
                schema,
                version,
                &generation,
                base.as_ref(),
                &all,
            )
            .await?;
            (generation, index_millis, row_count, changes)
        }
    };
    sqlx::query(&version_view_sql(&view, &generation, version, &all))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&grant_read_sql(&view))
        .execute(&mut *conn)
        .await?;
    Ok(BuiltVersion {
        table: view,
        generation,
        row_count,
        index_millis,
        changes,
    })
}

/// Starts generation `generation` at `version` from the working table (with `base`'s rows for
/// appends and upserts): the rows checked for duplicate identifiers, the generation columns
/// added, the indexes built. Returns the milliseconds indexing took, the generation's rows, and
/// what changed.
async fn start_generation(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    version: i64,
    generation: &str,
    base: Option<&Base<'_>>,
    all: &str,
) -> Result<(u64, i64, RowChanges), IngestionError> {
    let working = qualified(&upload.working_table);
    let (merged_base, changes) = match (upload.mode, base) {
        (UploadMode::Replace, base) => (
            false,
            RowChanges {
                created: upload.rows_loaded,
                deleted: base.map_or(0, |base| base.row_count),
                ..RowChanges::default()
            },
        ),
        // The first rows of the dataset (an append, or an upsert: see `upsert_into_nothing`).
        (mode, None) => {
            let changes = match mode {
                UploadMode::Upsert => upsert_into_nothing(conn, upload, schema).await?,
                _ => RowChanges {
                    created: upload.rows_loaded,
                    ..RowChanges::default()
                },
            };
            (false, changes)
        }
        (UploadMode::Append, Some(base)) => {
            sqlx::query(&format!(
                "INSERT INTO {working} ({all}) SELECT {all} FROM {}",
                qualified(base.table)
            ))
            .execute(&mut *conn)
            .await?;
            (
                true,
                RowChanges {
                    created: upload.rows_loaded,
                    ..RowChanges::default()
                },
            )
        }
        (UploadMode::Upsert, Some(base)) => {
            let merged = format!("{}_merged", upload.working_table);
            let changes = upsert(conn, upload, schema, &merged, base.table).await?;
            sqlx::query(&format!(
                "ALTER TABLE {} RENAME TO {}",
                qualified(&merged),
                quote_ident(&upload.working_table)
            ))
            .execute(&mut *conn)
            .await?;
            (true, changes)
        }
    };
    if upload.mode == UploadMode::Upsert {
        sqlx::query(&format!(
            "ALTER TABLE {working} DROP COLUMN IF EXISTS {}",
            quote_ident(DELETED_COLUMN)
        ))
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(&format!(
        "ALTER TABLE {working} RENAME TO {}",
        quote_ident(generation)
    ))
    .execute(&mut *conn)
    .await?;
    let table = qualified(generation);
    if let Some(row_identifier) = &schema.row_identifier {
        check_unique(conn, &table, row_identifier).await?;
    }
    let from = quote_ident(FROM_VERSION_COLUMN);
    let to = quote_ident(TO_VERSION_COLUMN);
    sqlx::query(&format!(
        "ALTER TABLE {table} ADD COLUMN {from} bigint NOT NULL DEFAULT {version}, \
         ADD COLUMN {to} bigint"
    ))
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "ALTER TABLE {table} ALTER COLUMN {from} DROP DEFAULT"
    ))
    .execute(&mut *conn)
    .await?;
    let started = Instant::now();
    for statement in generation_index_sqls(generation, schema, version) {
        sqlx::query(&statement).execute(&mut *conn).await?;
    }
    let index_millis = started.elapsed().as_millis() as u64;
    let row_count = if merged_base {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await?
    } else {
        changes.created
    };
    Ok((index_millis, row_count, changes))
}

/// Refuses rows of `table` repeating a row identifier, naming a few.
async fn check_unique(
    conn: &mut PgConnection,
    rows: &str,
    row_identifier: &str,
) -> Result<(), IngestionError> {
    let key = quote_ident(row_identifier);
    let duplicates: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT {key}::text FROM {rows} WHERE {key} IS NOT NULL GROUP BY {key} \
         HAVING count(*) > 1 ORDER BY 1 LIMIT 5"
    ))
    .fetch_all(&mut *conn)
    .await?;
    if duplicates.is_empty() {
        return Ok(());
    }
    Err(IngestionError::DuplicateRowIdentifier {
        column: row_identifier.to_owned(),
        examples: duplicates
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// An append into the base version's generation: the working table's rows, live from `version`.
/// Returns what it changed (the rows it created).
async fn append_to_generation(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    generation: &str,
    version: i64,
    all: &str,
) -> Result<RowChanges, IngestionError> {
    let working = qualified(&upload.working_table);
    let table = qualified(generation);
    if let Some(row_identifier) = &schema.row_identifier {
        // The appended rows with the live ones must not repeat an identifier.
        let key = quote_ident(row_identifier);
        let to = quote_ident(TO_VERSION_COLUMN);
        let rows = format!(
            "(SELECT {key} FROM {working} UNION ALL SELECT {key} FROM {table} WHERE {to} IS NULL) AS r"
        );
        check_unique(conn, &rows, row_identifier).await?;
    }
    let from = quote_ident(FROM_VERSION_COLUMN);
    let added = sqlx::query(&format!(
        "INSERT INTO {table} ({all}, {from}) SELECT {all}, {version} FROM {working}"
    ))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(&format!("DROP TABLE {working}"))
        .execute(&mut *conn)
        .await?;
    Ok(RowChanges {
        created: added as i64,
        ..RowChanges::default()
    })
}
