//! Committing an upload: in one transaction the working table becomes the new version's table
//! (merged with the previous version for appends and upserts), its indexes are built, the version
//! is recorded and `version_committed` goes into the outbox. Readers see the previous version until
//! the catalog switches to the new one; a failure leaves nothing behind.

use std::time::Instant;

use opendata_datastore::schema::Schema;
use opendata_datastore::table::{
    CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, grant_read_sql, index_sqls, qualified,
    quote_ident, version_table,
};
use sqlx::PgConnection;

use crate::error::IngestionError;
use crate::model::{Upload, UploadMode};

/// The table a commit produced.
pub struct BuiltVersion {
    /// Table name in the `data` schema.
    pub table: String,
    /// Rows in it.
    pub row_count: i64,
    /// Time spent building indexes.
    pub index_millis: u64,
}

/// Builds version `version` of the upload's dataset from its working table and, for appends and
/// upserts, the base version's table. Runs inside the caller's transaction.
pub async fn build_version(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    version: i64,
    base_table: Option<&str>,
) -> Result<BuiltVersion, IngestionError> {
    let table = version_table(&upload.dataset_id, version);
    let working = qualified(&upload.working_table);
    let system = [ID_COLUMN, CREATED_AT_COLUMN, UPDATED_AT_COLUMN]
        .map(quote_ident)
        .join(", ");
    let user: Vec<String> = schema
        .columns
        .iter()
        .map(|c| quote_ident(&c.field_name))
        .collect();
    let all = format!("{system}, {}", user.join(", "));

    let row_count: i64 = match (upload.mode, base_table) {
        (UploadMode::Replace, _) | (_, None) => {
            sqlx::query(&format!(
                "ALTER TABLE {working} RENAME TO {}",
                quote_ident(&table)
            ))
            .execute(&mut *conn)
            .await?;
            upload.rows_loaded
        }
        (UploadMode::Append, Some(base)) => {
            sqlx::query(&format!(
                "INSERT INTO {working} ({all}) SELECT {all} FROM {}",
                qualified(base)
            ))
            .execute(&mut *conn)
            .await?;
            sqlx::query(&format!(
                "ALTER TABLE {working} RENAME TO {}",
                quote_ident(&table)
            ))
            .execute(&mut *conn)
            .await?;
            sqlx::query_scalar(&format!("SELECT count(*) FROM {}", qualified(&table)))
                .fetch_one(&mut *conn)
                .await?
        }
        (UploadMode::Upsert, Some(base)) => upsert(conn, upload, schema, &table, base).await?,
    };

    if let Some(row_identifier) = &schema.row_identifier {
        let key = quote_ident(row_identifier);
        let duplicates: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT {key}::text FROM {} WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1 ORDER BY 1 LIMIT 5",
            qualified(&table)
        ))
        .fetch_all(&mut *conn)
        .await?;
        if !duplicates.is_empty() {
            return Err(IngestionError::DuplicateRowIdentifier {
                column: row_identifier.clone(),
                examples: duplicates
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let started = Instant::now();
    for statement in index_sqls(&table, schema) {
        sqlx::query(&statement).execute(&mut *conn).await?;
    }
    let index_millis = started.elapsed().as_millis() as u64;
    sqlx::query(&grant_read_sql(&table))
        .execute(&mut *conn)
        .await?;
    Ok(BuiltVersion {
        table,
        row_count,
        index_millis,
    })
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
) -> Result<i64, IngestionError> {
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
    let merged: Vec<String> = schema
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
        .collect();
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
    Ok(
        sqlx::query_scalar(&format!("SELECT count(*) FROM {target}"))
            .fetch_one(&mut *conn)
            .await?,
    )
}
