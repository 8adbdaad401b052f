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
//! role in a read-only transaction; it names both versions' views too, which locks them for the
//! transaction, so a purge or clean-up waits for the diff instead of changing it midway.

use opendata_datastore::output::{OutputColumn, ValueKind};
use opendata_datastore::schema::{Column, ColumnType, Schema};
use opendata_datastore::table::{FROM_VERSION_COLUMN, TO_VERSION_COLUMN, qualified, quote_ident};
use opendata_soql::types::output_expression;
use opendata_soql::{CompiledQuery, SoqlType, Target};

use crate::error::CatalogError;

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
    /// The two versions' views, named so the diff's transaction holds them.
    views: [String; 2],
}

/// Rows added, removed and changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct DiffCounts {
    #[serde(deserialize_with = "count")]
    pub added: u64,
    #[serde(deserialize_with = "count")]
    pub removed: u64,
    #[serde(deserialize_with = "count")]
    pub changed: u64,
}

impl DiffCounts {
    /// The counts from the JSON body of [`DiffPlan::count_query`].
    pub fn from_json(body: &[u8]) -> Result<DiffCounts, CatalogError> {
        let rows: Vec<DiffCounts> = serde_json::from_slice(body).map_err(|error| {
            CatalogError::Database(sqlx::Error::Protocol(format!("diff counts: {error}")))
        })?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }
}

/// A count as SODA JSON writes numbers: a string.
fn count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
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
        let shared_generation = match (from.generation, to.generation) {
            (Some(older), Some(newer)) if older == newer => Some(newer),
            _ => None,
        };
        let (old_rows, new_rows) = match shared_generation {
            Some(generation) => {
                let table = qualified(generation);
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
            None => (
                format!("SELECT {list} FROM {}", qualified(from.view)),
                format!("SELECT {list} FROM {}", qualified(to.view)),
            ),
        };
        DiffPlan {
            key,
            columns_added: names_not_in(to.schema, from.schema),
            columns_removed: names_not_in(from.schema, to.schema),
            columns,
            incremental: shared_generation.is_some(),
            old_rows,
            new_rows,
            views: [qualified(from.view), qualified(to.view)],
        }
    }

    /// The query counting added, removed and changed rows: one row, three columns.
    pub fn count_query(&self) -> CompiledQuery {
        let with = self.with();
        let sql = match &self.key {
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
        };
        let names = ["added", "removed", "changed"];
        CompiledQuery {
            sql: format!(
                "SELECT {} FROM ({sql}) c({})",
                names.map(|name| format!("{name}::text")).join(", "),
                names.join(", ")
            ),
            binds: Vec::new(),
            columns: names
                .map(|name| OutputColumn {
                    name: name.to_owned(),
                    soql_type: SoqlType::Number.name(),
                    kind: ValueKind::String,
                })
                .to_vec(),
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
                // The key never changes: it is what the rows are matched by.
                let compared: Vec<&Column> = self
                    .columns
                    .iter()
                    .filter(|column| &column.field_name != key)
                    .collect();
                let fields: Vec<String> = compared
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
                for column in &compared {
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

    /// The two sides, and the views held.
    fn with(&self) -> String {
        let [older, newer] = &self.views;
        format!(
            "WITH held AS (SELECT 1 FROM {older}, {newer} LIMIT 0), o AS ({}), n AS ({})",
            self.old_rows, self.new_rows
        )
    }

    /// The condition keeping the joined rows that differ: one side missing, or a value changed.
    fn differs(&self) -> String {
        let mut conditions = vec![format!("o.{SIDE} IS NULL"), format!("n.{SIDE} IS NULL")];
        conditions.extend(self.columns.iter().map(differs));
        conditions.join(" OR ")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(columns: &[(&str, ColumnType)], key: Option<&str>) -> Schema {
        Schema {
            columns: columns
                .iter()
                .map(|(name, ty)| Column::new(name, name, *ty))
                .collect(),
            row_identifier: key.map(str::to_owned),
        }
    }

    fn side<'a>(version: i64, generation: Option<&'a str>, schema: &'a Schema) -> Side<'a> {
        Side {
            version,
            view: if version == 1 { "ds_v1" } else { "ds_v2" },
            generation,
            schema,
        }
    }

    #[test]
    fn one_generation_reads_only_the_rows_that_changed_between_the_versions() {
        let towns = schema(
            &[("town", ColumnType::Text), ("amount", ColumnType::Number)],
            Some("town"),
        );
        let plan = DiffPlan::new(&side(1, Some("g1"), &towns), &side(2, Some("g1"), &towns));
        assert!(plan.incremental);
        assert_eq!(plan.key.as_deref(), Some("town"));
        let sql = plan.rows_query(Target::Json, Some(10), 5).sql;
        assert!(
            sql.contains(r#"":from_version" <= 1 AND ":to_version" > 1 AND ":to_version" <= 2"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"":from_version" > 1 AND ":from_version" <= 2"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"held AS (SELECT 1 FROM data."ds_v1", data."ds_v2" LIMIT 0)"#),
            "{sql}"
        );
        assert!(sql.ends_with("LIMIT $1::bigint OFFSET $2::bigint"), "{sql}");
        let names: Vec<String> = plan
            .rows_query(Target::Csv, None, 0)
            .columns
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            [
                ":change",
                "town",
                "amount",
                ":changed_fields",
                ":old_amount"
            ],
            "the key has no old value"
        );
    }

    #[test]
    fn across_generations_and_schemas_the_views_compare_and_columns_are_listed() {
        let older = schema(
            &[
                ("town", ColumnType::Text),
                ("amount", ColumnType::Number),
                ("note", ColumnType::Text),
            ],
            Some("town"),
        );
        let newer = schema(
            &[
                ("town", ColumnType::Text),
                ("amount", ColumnType::Text),
                ("place", ColumnType::Point),
            ],
            None,
        );
        let plan = DiffPlan::new(&side(1, Some("g1"), &older), &side(2, Some("g2"), &newer));
        assert!(!plan.incremental);
        assert_eq!(plan.key, None, "the newer version has no row identifier");
        let compared: Vec<&str> = plan.columns.iter().map(|c| c.field_name.as_str()).collect();
        assert_eq!(compared, ["town"], "amount changed type");
        assert_eq!(plan.columns_added, ["amount", "place"]);
        assert_eq!(plan.columns_removed, ["amount", "note"]);
        let sql = plan.count_query().sql;
        assert!(sql.contains(r#"SELECT "town" FROM data."ds_v1""#), "{sql}");
        assert!(sql.contains("EXCEPT ALL"), "{sql}");
    }

    #[test]
    fn whole_rows_compare_points_as_text() {
        let places = schema(&[("place", ColumnType::Point)], None);
        let plan = DiffPlan::new(&side(1, None, &places), &side(2, None, &places));
        let sql = plan.rows_query(Target::Json, None, 0).sql;
        assert!(sql.contains(r#""place"::text AS "place""#), "{sql}");
        let keyed = schema(
            &[("id", ColumnType::Text), ("place", ColumnType::Point)],
            Some("id"),
        );
        let plan = DiffPlan::new(&side(1, None, &keyed), &side(2, None, &keyed));
        let sql = plan.rows_query(Target::Json, None, 0).sql;
        assert!(
            sql.contains(r#"o."place"::text IS DISTINCT FROM n."place"::text"#),
            "{sql}"
        );
    }
}
