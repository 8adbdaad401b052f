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
//! leaving unchanged rows as they are. So storage grows with the changes, not with copies.

use std::time::Instant;

use opendata_datastore::schema::{ColumnType, Schema};
use opendata_datastore::table::{
    CREATED_AT_COLUMN, FROM_VERSION_COLUMN, ID_COLUMN, TO_VERSION_COLUMN, UPDATED_AT_COLUMN,
    generation_index_sqls, generation_table, grant_read_sql, qualified, quote_ident, version_table,
    version_view_sql,
};
use sqlx::PgConnection;

use crate::error::IngestionError;
use crate::model::{Upload, UploadMode};

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
    let (generation, index_millis, row_count) = match (same_generation, &base) {
        (Some(generation), Some(base)) => {
            // The rows the change added, less the rows it ended, counted as it wrote them.
            let added = match upload.mode {
                UploadMode::Upsert => {
                    upsert_in_generation(conn, upload, schema, generation, version).await?
                }
                _ => append_to_generation(conn, upload, schema, generation, version, &all).await?,
            };
            (generation.to_owned(), 0, base.row_count + added)
        }
        _ => {
            let generation = generation_table(&upload.dataset_id, version);
            let (index_millis, row_count) = start_generation(
                conn,
                upload,
                schema,
                version,
                &generation,
                base.as_ref().map(|base| base.table),
                &all,
            )
            .await?;
            (generation, index_millis, row_count)
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
    })
}

/// Starts generation `generation` at `version` from the working table (with `base`'s rows for
/// appends and upserts): the rows checked for duplicate identifiers, the generation columns
/// added, the indexes built. Returns the milliseconds indexing took, and the generation's rows.
async fn start_generation(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    version: i64,
    generation: &str,
    base: Option<&str>,
    all: &str,
) -> Result<(u64, i64), IngestionError> {
    let working = qualified(&upload.working_table);
    let merged_base = match (upload.mode, base) {
        (UploadMode::Replace, _) | (_, None) => false,
        (UploadMode::Append, Some(base)) => {
            sqlx::query(&format!(
                "INSERT INTO {working} ({all}) SELECT {all} FROM {}",
                qualified(base)
            ))
            .execute(&mut *conn)
            .await?;
            true
        }
        (UploadMode::Upsert, Some(base)) => {
            let merged = format!("{}_merged", upload.working_table);
            upsert(conn, upload, schema, &merged, base).await?;
            sqlx::query(&format!(
                "ALTER TABLE {} RENAME TO {}",
                qualified(&merged),
                quote_ident(&upload.working_table)
            ))
            .execute(&mut *conn)
            .await?;
            true
        }
    };
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
        upload.rows_loaded
    };
    Ok((index_millis, row_count))
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
/// Returns the rows it added.
async fn append_to_generation(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    generation: &str,
    version: i64,
    all: &str,
) -> Result<i64, IngestionError> {
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
    Ok(added as i64)
}

/// An upsert into the base version's generation: staged rows whose values differ from the live
/// row with their identifier close it and take its place (keeping its id and creation time;
/// columns absent from the file keep their old values), new identifiers are inserted, and rows
/// equal to the live ones change nothing. When the file repeats an identifier, its last row wins.
/// Returns the rows it added less the rows it ended.
async fn upsert_in_generation(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    generation: &str,
    version: i64,
) -> Result<i64, IngestionError> {
    let row_identifier = schema
        .row_identifier
        .as_deref()
        .ok_or_else(|| IngestionError::invalid("mode", "an upsert needs a row identifier"))?;
    let key = quote_ident(row_identifier);
    let working = qualified(&upload.working_table);
    let table = qualified(generation);
    let id = quote_ident(ID_COLUMN);
    let created = quote_ident(CREATED_AT_COLUMN);
    let updated = quote_ident(UPDATED_AT_COLUMN);
    let from = quote_ident(FROM_VERSION_COLUMN);
    let to = quote_ident(TO_VERSION_COLUMN);
    let staged =
        format!("(SELECT DISTINCT ON ({key}) * FROM {working} ORDER BY {key}, {id} DESC) s");
    // Whether a staged row changes the live one, column by column over the file's columns;
    // points compare as text (PostgreSQL has no equality for them).
    let differences: Vec<String> = schema
        .columns
        .iter()
        .filter(|column| upload.file_columns.contains(&column.field_name))
        .map(|column| {
            let name = quote_ident(&column.field_name);
            if column.column_type == ColumnType::Point {
                format!("g.{name}::text IS DISTINCT FROM s.{name}::text")
            } else {
                format!("g.{name} IS DISTINCT FROM s.{name}")
            }
        })
        .collect();
    let changed = if differences.is_empty() {
        "false".to_owned()
    } else {
        format!("({})", differences.join(" OR "))
    };
    let user: Vec<String> = schema
        .columns
        .iter()
        .map(|c| quote_ident(&c.field_name))
        .collect();
    let merged = merged_columns(upload, schema, &key);
    let [ended, started, dropped] = [
        // The live rows the file changes end at this version.
        format!(
            "UPDATE {table} g SET {to} = {version} FROM {staged} \
             WHERE g.{key} = s.{key} AND g.{to} IS NULL AND {changed}"
        ),
        // Their new values, and the new identifiers' rows, start at it.
        format!(
            "INSERT INTO {table} ({id}, {created}, {updated}, {columns}, {from}) \
             SELECT coalesce(b.{id}, s.{id}), coalesce(b.{created}, s.{created}), now(), {merged}, {version} \
             FROM {staged} LEFT JOIN {table} b ON b.{key} = s.{key} AND b.{to} = {version} \
             WHERE b.{key} IS NOT NULL \
                OR NOT EXISTS (SELECT 1 FROM {table} l WHERE l.{key} = s.{key} AND l.{to} IS NULL)",
            columns = user.join(", "),
            merged = merged.join(", "),
        ),
        format!("DROP TABLE {working}"),
    ];
    let mut affected = Vec::new();
    for statement in [ended, started, dropped] {
        affected.push(
            sqlx::query(&statement)
                .execute(&mut *conn)
                .await?
                .rows_affected(),
        );
    }
    Ok(affected[1] as i64 - affected[0] as i64)
}

/// The columns of an upserted row, staged `s` over base `b`: the file's values, and the base row's
/// for columns the file does not have (the staged row's when there is no base row).
fn merged_columns(upload: &Upload, schema: &Schema, key: &str) -> Vec<String> {
    schema
        .columns
        .iter()
        .map(|column| {
            let name = quote_ident(&column.field_name);
            if upload.file_columns.contains(&column.field_name) {
                format!("s.{name}")
            } else {
                format!("CASE WHEN b.{key} IS NULL THEN s.{name} ELSE b.{name} END")
            }
        })
        .collect()
}

/// Upsert: staged rows replace base rows with the same row identifier (keeping their id and
/// creation time; columns absent from the file keep their old values) and the rest are inserted;
/// base rows not in the file stay. When the file repeats an identifier, its last row wins.
async fn upsert(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    table: &str,
    base: &str,
) -> Result<(), IngestionError> {
    let row_identifier = schema
        .row_identifier
        .as_deref()
        .ok_or_else(|| IngestionError::invalid("mode", "an upsert needs a row identifier"))?;
    let key = quote_ident(row_identifier);
    let working = qualified(&upload.working_table);
    let target = qualified(table);
    let base = qualified(base);
    let id = quote_ident(ID_COLUMN);
    let created = quote_ident(CREATED_AT_COLUMN);
    let updated = quote_ident(UPDATED_AT_COLUMN);
    let user: Vec<String> = schema
        .columns
        .iter()
        .map(|c| quote_ident(&c.field_name))
        .collect();
    let merged = merged_columns(upload, schema, &key);
    let statements = [
        format!("CREATE TABLE {target} (LIKE {working} INCLUDING DEFAULTS)"),
        format!(
            "INSERT INTO {target} ({id}, {created}, {updated}, {columns}) \
             SELECT coalesce(b.{id}, s.{id}), coalesce(b.{created}, s.{created}), now(), {merged} \
             FROM (SELECT DISTINCT ON ({key}) * FROM {working} ORDER BY {key}, {id} DESC) s \
             LEFT JOIN {base} b ON b.{key} = s.{key}",
            columns = user.join(", "),
            merged = merged.join(", "),
        ),
        format!(
            "INSERT INTO {target} ({id}, {created}, {updated}, {columns}) \
             SELECT b.{id}, b.{created}, b.{updated}, {base_columns} FROM {base} b \
             WHERE NOT EXISTS (SELECT 1 FROM {working} s WHERE s.{key} = b.{key})",
            columns = user.join(", "),
            base_columns = user
                .iter()
                .map(|c| format!("b.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        format!("DROP TABLE {working}"),
    ];
    for statement in &statements {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}
