//! Row-level diffs between two kept versions of a dataset: which rows the newer version added,
//! which it removed, and which it changed (with the changed fields' old values), matched by the
//! row identifier both versions share, or, without one, compared whole (as multisets).
//!
//! Two versions of one generation table share their unchanged rows, so only the rows whose
//! version range starts or ends between them can differ: the older side is the rows of `from`
//! that ended by `to`, the newer side the rows of `to` that began after `from`, and a diff costs
//! the changes, not the table. Versions of different generations (a replace between them) are
//! compared through their views, whole.
//!
//! The SQL is the catalog's own: identifiers quoted, never request text. It reads the
//! generation's version columns, which the reader role does not see, so it runs as the catalog's
//! role in a read-only transaction.

use std::time::Duration;

use opendata_datastore::output::{OutputColumn, ValueKind};
use opendata_datastore::schema::{Column, ColumnType, Schema};
use opendata_datastore::table::{FROM_VERSION_COLUMN, TO_VERSION_COLUMN, qualified, quote_ident};
use opendata_soql::types::output_expression;
use opendata_soql::{CompiledQuery, SoqlType, Target};
use sqlx::{Executor as _, PgPool};

use crate::error::CatalogError;
use crate::rows::on_timeout;

/// The output column saying what happened to a row: `added`, `removed` or `changed`.
pub const CHANGE_COLUMN: &str = ":change";
/// The output column listing a changed row's changed fields, comma separated.
pub const CHANGED_FIELDS_COLUMN: &str = ":changed_fields";

/// The output column holding a changed field's old value.
pub fn old_value_column(field_name: &str) -> String {
    format!(":old_{field_name}")
}

/// Marks which side of the join a row came from.
const SIDE: &str = "\":side\"";

/// One side of a diff: a kept version.
pub struct Side<'a> {
    pub version: i64,
    /// Its view in the `data` schema.
    pub view: &'a str,
    /// The generation table the view selects from (none before generations).
    pub generation: Option<&'a str>,
    pub schema: &'a Schema,
}

/// What a diff compares, and how.
#[derive(Debug)]
pub struct DiffPlan {
    /// The column rows are matched by; `None` when rows are compared whole.
    pub key: Option<String>,
    /// The columns compared: both versions have them with the same type (the newer's order).
    pub columns: Vec<Column>,
    /// Columns only the newer version has (or has with another type).
    pub columns_added: Vec<String>,
    /// Columns only the older version has (or had with another type).
    pub columns_removed: Vec<String>,
    /// Whether the sides are only the rows that changed between the versions (one generation).
    pub incremental: bool,
    old_rows: String,
    new_rows: String,
}

/// Rows added, removed and changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffCounts {
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
}

impl DiffPlan {
    /// The plan of the diff from `from` to `to` (`from` the older).
    pub fn new(from: &Side<'_>, to: &Side<'_>) -> DiffPlan {
        let shared = |column: &Column, other: &Schema| {
            other
                .column(&column.field_name)
                .is_some_and(|c| c.column_type == column.column_type)
        };
        let columns: Vec<Column> = to
            .schema
            .columns
            .iter()
            .filter(|column| shared(column, from.schema))
            .cloned()
            .collect();
        let names_not_in = |schema: &Schema, other: &Schema| {
            schema
                .columns
                .iter()
                .filter(|column| !shared(column, other))
                .map(|column| column.field_name.clone())
                .collect()
        };
        let key = to
            .schema
            .row_identifier
            .clone()
            .filter(|key| from.schema.row_identifier.as_ref() == Some(key))
            .filter(|key| {
                columns
                    .iter()
                    .any(|c| &c.field_name == key && c.column_type != ColumnType::Point)
            });
        // Whole rows compare with `EXCEPT ALL`, which needs equality: points compare as text.
        let list: Vec<String> = columns
            .iter()
            .map(|column| {
                let name = quote_ident(&column.field_name);
                if key.is_none() && column.column_type == ColumnType::Point {
                    format!("{name}::text AS {name}")
                } else {
                    name
                }
            })
            .collect();
        let mut list = list.join(", ");
        if key.is_some() {
            list = if list.is_empty() {
                format!("1 AS {SIDE}")
            } else {
                format!("{list}, 1 AS {SIDE}")
            };
        }
        let incremental = matches!(
            (from.generation, to.generation),
            (Some(older), Some(newer)) if older == newer
        );
        let (old_rows, new_rows) = match (from.generation, to.generation) {
            (Some(older), Some(newer)) if older == newer => {
                let table = qualified(newer);
                let first = quote_ident(FROM_VERSION_COLUMN);
                let last = quote_ident(TO_VERSION_COLUMN);
                let (n, m) = (from.version, to.version);
                (
                    format!(
                        "SELECT {list} FROM {table} \
                         WHERE {first} <= {n} AND {last} > {n} AND {last} <= {m}"
                    ),
                    format!(
                        "SELECT {list} FROM {table} \
                         WHERE {first} > {n} AND {first} <= {m} AND ({last} IS NULL OR {last} > {m})"
                    ),
                )
            }
            _ => (
                format!("SELECT {list} FROM {}", qualified(from.view)),
                format!("SELECT {list} FROM {}", qualified(to.view)),
            ),
        };
        DiffPlan {
            key,
            columns_added: names_not_in(to.schema, from.schema),
            columns_removed: names_not_in(from.schema, to.schema),
            columns,
            incremental,
            old_rows,
            new_rows,
        }
    }

    /// The statement counting added, removed and changed rows, as three bigint columns.
    pub fn count_sql(&self) -> String {
        let with = self.with();
        match &self.key {
            Some(key) => format!(
                "{with} SELECT count(*) FILTER (WHERE o.{SIDE} IS NULL), \
                 count(*) FILTER (WHERE n.{SIDE} IS NULL), \
                 count(*) FILTER (WHERE o.{SIDE} IS NOT NULL AND n.{SIDE} IS NOT NULL) \
                 FROM {} WHERE {}",
                join_on(&quote_ident(key)),
                self.differs()
            ),
            None => format!(
                "{with} SELECT (SELECT count(*) FROM (SELECT * FROM n EXCEPT ALL SELECT * FROM o) a), \
                 (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM n) r), 0::bigint"
            ),
        }
    }

    /// The statement listing the changes for `target`, in key order (whole rows: in column
    /// order), `offset` changes skipped and at most `limit` given.
    pub fn rows_query(&self, target: Target, limit: Option<u64>, offset: u64) -> CompiledQuery {
        let mut binds = Vec::new();
        let mut page = String::new();
        if let Some(limit) = limit {
            binds.push(limit.to_string());
            page.push_str(&format!(" LIMIT ${}::bigint", binds.len()));
        }
        if offset > 0 {
            binds.push(offset.to_string());
            page.push_str(&format!(" OFFSET ${}::bigint", binds.len()));
        }
        let mut columns = vec![OutputColumn {
            name: CHANGE_COLUMN.to_owned(),
            soql_type: SoqlType::Text.name(),
            kind: ValueKind::String,
        }];
        let output = |sql: String, column: &Column, name: String| {
            let ty = SoqlType::of_column(column.column_type);
            let (sql, kind) = output_expression(&sql, ty, target);
            (
                sql,
                OutputColumn {
                    name,
                    soql_type: ty.name(),
                    kind,
                },
            )
        };
        let with = self.with();
        let sql = match &self.key {
            Some(key) => {
                let mut select = vec![format!(
                    "CASE WHEN o.{SIDE} IS NULL THEN 'added' WHEN n.{SIDE} IS NULL THEN 'removed' \
                     ELSE 'changed' END"
                )];
                let both = format!("o.{SIDE} IS NOT NULL AND n.{SIDE} IS NOT NULL");
                for column in &self.columns {
                    let name = quote_ident(&column.field_name);
                    let value =
                        format!("CASE WHEN n.{SIDE} IS NULL THEN o.{name} ELSE n.{name} END");
                    let (sql, out) = output(value, column, column.field_name.clone());
                    select.push(sql);
                    columns.push(out);
                }
                let fields: Vec<String> = self
                    .columns
                    .iter()
                    .map(|column| {
                        format!(
                            "CASE WHEN {} THEN {} END",
                            differs(column),
                            literal(&column.field_name)
                        )
                    })
                    .collect();
                select.push(if fields.is_empty() {
                    "NULL::text".to_owned()
                } else {
                    format!(
                        "CASE WHEN {both} THEN concat_ws(',', {}) END",
                        fields.join(", ")
                    )
                });
                columns.push(OutputColumn {
                    name: CHANGED_FIELDS_COLUMN.to_owned(),
                    soql_type: SoqlType::Text.name(),
                    kind: ValueKind::String,
                });
                for column in &self.columns {
                    let name = quote_ident(&column.field_name);
                    let old = format!("CASE WHEN {both} AND {} THEN o.{name} END", differs(column));
                    let (sql, out) = output(old, column, old_value_column(&column.field_name));
                    select.push(sql);
                    columns.push(out);
                }
                let key = quote_ident(key);
                format!(
                    "{with} SELECT {} FROM {} WHERE {} \
                     ORDER BY coalesce(n.{key}, o.{key}), o.{SIDE} NULLS FIRST{page}",
                    select.join(", "),
                    join_on(&key),
                    self.differs()
                )
            }
            None => {
                let mut select = vec![quote_ident(CHANGE_COLUMN)];
                let mut order = Vec::new();
                for column in &self.columns {
                    let name = quote_ident(&column.field_name);
                    let (sql, out) = output(name.clone(), column, column.field_name.clone());
                    select.push(sql);
                    columns.push(out);
                    order.push(name);
                }
                order.push(format!("{} DESC", quote_ident(CHANGE_COLUMN)));
                format!(
                    "{with}, d AS (\
                     SELECT 'removed' AS {change}, r.* FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM n) r \
                     UNION ALL \
                     SELECT 'added', a.* FROM (SELECT * FROM n EXCEPT ALL SELECT * FROM o) a) \
                     SELECT {} FROM d ORDER BY {}{page}",
                    select.join(", "),
                    order.join(", "),
                    change = quote_ident(CHANGE_COLUMN),
                )
            }
        };
        CompiledQuery {
            sql,
            binds,
            columns,
        }
    }

    fn with(&self) -> String {
        format!("WITH o AS ({}), n AS ({})", self.old_rows, self.new_rows)
    }

    /// The condition keeping the joined rows that differ: one side missing, or a value changed.
    fn differs(&self) -> String {
        let mut conditions = vec![format!("o.{SIDE} IS NULL"), format!("n.{SIDE} IS NULL")];
        conditions.extend(self.columns.iter().map(differs));
        conditions.join(" OR ")
    }
}

/// Counts a diff's added, removed and changed rows, in a read-only transaction with the caller's
/// statement timeout (`limit` names it when it passes).
pub async fn diff_counts(
    pool: &PgPool,
    plan: &DiffPlan,
    timeout: Duration,
    limit: &'static str,
) -> Result<DiffCounts, CatalogError> {
    let mut tx = pool.begin().await?;
    let setup = format!(
        "SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {}",
        timeout.as_millis()
    );
    (&mut *tx).execute(setup.as_str()).await?;
    let (added, removed, changed): (i64, i64, i64) = sqlx::query_as(&plan.count_sql())
        .fetch_one(&mut *tx)
        .await
        .map_err(|error| on_timeout(error, limit))?;
    tx.rollback().await?;
    Ok(DiffCounts {
        added,
        removed,
        changed,
    })
}

/// The full join of the two sides on `key` (already quoted).
fn join_on(key: &str) -> String {
    format!("o FULL JOIN n ON o.{key} = n.{key}")
}

/// Whether `column`'s value differs between the joined sides (points compare as text:
/// PostgreSQL has no equality for them).
fn differs(column: &Column) -> String {
    let name = quote_ident(&column.field_name);
    if column.column_type == ColumnType::Point {
        format!("o.{name}::text IS DISTINCT FROM n.{name}::text")
    } else {
        format!("o.{name} IS DISTINCT FROM n.{name}")
    }
}

/// A string literal (field names are lower-case letters, digits and underscores, but quotes are
/// doubled all the same).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
