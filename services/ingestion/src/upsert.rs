//! Upserts: the staged rows of a file (the last row for each row identifier) merged into a
//! dataset's rows. Within the base version's generation only the change is written (rows that
//! differ close the live row and take its place, new identifiers are inserted, `:deleted` rows
//! only close theirs); into nothing, the staged rows are the rows; on a version from before
//! generations, a merged copy is made once. Each counts the rows it created, changed (values that
//! differ) and deleted, as Socrata's write API reports them.

use opendata_datastore::schema::{ColumnType, Schema};
use opendata_datastore::table::{
    CREATED_AT_COLUMN, FROM_VERSION_COLUMN, ID_COLUMN, TO_VERSION_COLUMN, UPDATED_AT_COLUMN,
    qualified, quote_ident,
};
use sqlx::PgConnection;

use crate::error::IngestionError;
use crate::model::{DELETED_COLUMN, RowChanges, Upload};

/// An upsert into the base version's generation: staged rows whose values differ from the live
/// row with their identifier close it and take its place (keeping its id and creation time;
/// columns absent from the file keep their old values), new identifiers are inserted, rows equal
/// to the live ones change nothing, and `:deleted` rows only close the live row. When the file
/// repeats an identifier, its last row wins. Returns what it changed.
pub(crate) async fn upsert_in_generation(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    generation: &str,
    version: i64,
) -> Result<RowChanges, IngestionError> {
    let staging = Staging::of(upload, schema)?;
    let Staging {
        key,
        staged,
        deleted,
        ..
    } = &staging;
    let table = qualified(generation);
    let [id, created, updated, from, to] = [
        ID_COLUMN,
        CREATED_AT_COLUMN,
        UPDATED_AT_COLUMN,
        FROM_VERSION_COLUMN,
        TO_VERSION_COLUMN,
    ]
    .map(quote_ident);
    let changed = staging.changed("g");
    // The live rows the file changes or deletes end at this version.
    let (deleted_count, updated_count): (i64, i64) = sqlx::query_as(&format!(
        "WITH ended AS (UPDATE {table} g SET {to} = {version} FROM {staged} \
         WHERE g.{key} = s.{key} AND g.{to} IS NULL AND ({deleted} OR {changed}) \
         RETURNING {deleted} AS deleted) \
         SELECT count(*) FILTER (WHERE deleted), count(*) FILTER (WHERE NOT deleted) FROM ended"
    ))
    .fetch_one(&mut *conn)
    .await?;
    // Their new values, and the new identifiers' rows, start at it.
    let inserted = sqlx::query(&format!(
        "INSERT INTO {table} ({id}, {created}, {updated}, {columns}, {from}) \
         SELECT coalesce(b.{id}, s.{id}), coalesce(b.{created}, s.{created}), now(), {merged}, {version} \
         FROM {staged} LEFT JOIN {table} b ON b.{key} = s.{key} AND b.{to} = {version} \
         WHERE NOT {deleted} AND (b.{key} IS NOT NULL \
            OR NOT EXISTS (SELECT 1 FROM {table} l WHERE l.{key} = s.{key} AND l.{to} IS NULL))",
        columns = staging.user.join(", "),
        merged = staging.merged.join(", "),
    ))
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64;
    sqlx::query(&format!("DROP TABLE {}", qualified(&upload.working_table)))
        .execute(&mut *conn)
        .await?;
    Ok(RowChanges {
        created: inserted - updated_count,
        updated: updated_count,
        deleted: deleted_count,
    })
}

/// What both upserts read from the working table: the row identifier, the staged rows (`s`: the
/// last row of the file for each identifier), whether a staged row deletes, and the columns of an
/// upserted row.
struct Staging {
    /// The row identifier, quoted.
    key: String,
    /// The staged rows as a `FROM` item named `s`.
    staged: String,
    /// SQL true for a staged row that deletes its row.
    deleted: String,
    /// The dataset's columns, quoted.
    user: Vec<String>,
    /// Their values in an upserted row (see [`merged_columns`]).
    merged: Vec<String>,
    /// The file's columns of the dataset, quoted, and whether each is a point.
    compared: Vec<(String, bool)>,
}

impl Staging {
    /// Whether a staged row `s` changes the row `live` (an alias), column by column over the
    /// file's columns; points compare as text (PostgreSQL has no equality for them).
    fn changed(&self, live: &str) -> String {
        if self.compared.is_empty() {
            return "false".to_owned();
        }
        let differences: Vec<String> = self
            .compared
            .iter()
            .map(|(name, point)| {
                if *point {
                    format!("{live}.{name}::text IS DISTINCT FROM s.{name}::text")
                } else {
                    format!("{live}.{name} IS DISTINCT FROM s.{name}")
                }
            })
            .collect();
        format!("({})", differences.join(" OR "))
    }

    fn of(upload: &Upload, schema: &Schema) -> Result<Staging, IngestionError> {
        let row_identifier = schema
            .row_identifier
            .as_deref()
            .ok_or_else(|| IngestionError::invalid("mode", "an upsert needs a row identifier"))?;
        let key = quote_ident(row_identifier);
        let id = quote_ident(ID_COLUMN);
        let staged = format!(
            "(SELECT DISTINCT ON ({key}) * FROM {} ORDER BY {key}, {id} DESC) s",
            qualified(&upload.working_table)
        );
        let deleted = if upload.deletes() {
            format!("coalesce(s.{}, false)", quote_ident(DELETED_COLUMN))
        } else {
            "false".to_owned()
        };
        Ok(Staging {
            user: schema
                .columns
                .iter()
                .map(|c| quote_ident(&c.field_name))
                .collect(),
            merged: merged_columns(upload, schema, &key),
            compared: schema
                .columns
                .iter()
                .filter(|column| upload.file_columns.contains(&column.field_name))
                .map(|column| {
                    (
                        quote_ident(&column.field_name),
                        column.column_type == ColumnType::Point,
                    )
                })
                .collect(),
            key,
            staged,
            deleted,
        })
    }
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

/// Upsert into a new table (the first upsert on a version from before generations): staged rows
/// replace base rows with the same row identifier (keeping their id and creation time; columns
/// absent from the file keep their old values), `:deleted` rows remove theirs, and the rest are
/// inserted; base rows not in the file stay. When the file repeats an identifier, its last row
/// wins. Returns what it changed.
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
    table: &str,
    base: &str,
) -> Result<RowChanges, IngestionError> {
    let staging = Staging::of(upload, schema)?;
    let Staging {
        key,
        staged,
        deleted,
        ..
    } = &staging;
    let working = qualified(&upload.working_table);
    let target = qualified(table);
    let base = qualified(base);
    let [id, created, updated] = [ID_COLUMN, CREATED_AT_COLUMN, UPDATED_AT_COLUMN].map(quote_ident);
    let changed = staging.changed("b");
    let (created_count, updated_count, deleted_count): (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE b.{key} IS NULL AND NOT {deleted}), \
                count(*) FILTER (WHERE b.{key} IS NOT NULL AND NOT {deleted} AND {changed}), \
                count(*) FILTER (WHERE b.{key} IS NOT NULL AND {deleted}) \
         FROM {staged} LEFT JOIN {base} b ON b.{key} = s.{key}"
    ))
    .fetch_one(&mut *conn)
    .await?;
    let columns = staging.user.join(", ");
    let statements = [
        format!("CREATE TABLE {target} (LIKE {working} INCLUDING DEFAULTS)"),
        format!(
            "INSERT INTO {target} ({id}, {created}, {updated}, {columns}) \
             SELECT coalesce(b.{id}, s.{id}), coalesce(b.{created}, s.{created}), now(), {merged} \
             FROM {staged} LEFT JOIN {base} b ON b.{key} = s.{key} WHERE NOT {deleted}",
            merged = staging.merged.join(", "),
        ),
        format!(
            "INSERT INTO {target} ({id}, {created}, {updated}, {columns}) \
             SELECT b.{id}, b.{created}, b.{updated}, {base_columns} FROM {base} b \
             WHERE NOT EXISTS (SELECT 1 FROM {working} s WHERE s.{key} = b.{key})",
            base_columns = staging
                .user
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
    Ok(RowChanges {
        created: created_count,
        updated: updated_count,
        deleted: deleted_count,
    })
}

/// The first rows of a dataset, by upsert: the staged rows are the rows, less those whose
/// identifier's last row is `:deleted` (there is nothing for them to delete). Repeated
/// identifiers are left for the caller to refuse, as any first load's. Returns what it created.
pub(crate) async fn upsert_into_nothing(
    conn: &mut PgConnection,
    upload: &Upload,
    schema: &Schema,
) -> Result<RowChanges, IngestionError> {
    let mut created = upload.rows_loaded;
    if upload.deletes() {
        let Staging { key, staged, .. } = Staging::of(upload, schema)?;
        created -= sqlx::query(&format!(
            "DELETE FROM {working} w USING {staged} WHERE w.{key} = s.{key} AND s.{deleted} IS TRUE",
            working = qualified(&upload.working_table),
            deleted = quote_ident(DELETED_COLUMN),
        ))
        .execute(&mut *conn)
        .await?
        .rows_affected() as i64;
    }
    Ok(RowChanges {
        created,
        ..RowChanges::default()
    })
}
