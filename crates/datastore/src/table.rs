//! Naming and DDL of dataset tables, in the `data` schema. A dataset's rows live in generation
//! tables: one per replace (or schema change), holding every row of every version since, each
//! row with the first version it is in (`:from_version`) and the first it is not
//! (`:to_version`, null while live); each version is a view of its generation selecting its
//! rows. System columns `:id`, `:created_at` and `:updated_at` exist in every row, and row ids come
//! from one sequence per dataset so they stay unique across versions.

use uuid::Uuid;

use crate::schema::Schema;

/// The schema holding every dataset table.
pub const DATA_SCHEMA: &str = "data";
/// The read-only role queries run under.
pub const READER_ROLE: &str = "opendata_reader";
/// System column: row id.
pub const ID_COLUMN: &str = ":id";
/// System column: when the row was first created.
pub const CREATED_AT_COLUMN: &str = ":created_at";
/// System column: when the row last changed.
pub const UPDATED_AT_COLUMN: &str = ":updated_at";
/// Generation column: the first version a row is in.
pub const FROM_VERSION_COLUMN: &str = ":from_version";
/// Generation column: the first version a row is not in; null while the row is live.
pub const TO_VERSION_COLUMN: &str = ":to_version";
/// The system columns, in order, with their PostgreSQL types.
pub const SYSTEM_COLUMNS: [(&str, &str); 3] = [
    (ID_COLUMN, "bigint"),
    (CREATED_AT_COLUMN, "timestamptz"),
    (UPDATED_AT_COLUMN, "timestamptz"),
];

/// Quotes an identifier for PostgreSQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `data."<table>"`.
pub fn qualified(table: &str) -> String {
    format!("{DATA_SCHEMA}.{}", quote_ident(table))
}

fn dataset_stem(dataset_id: &str) -> String {
    format!("ds_{}", dataset_id.replace('-', "_"))
}

/// The view (or, for versions committed before generations, the table) of one committed
/// version.
pub fn version_table(dataset_id: &str, version: i64) -> String {
    format!("{}_v{version}", dataset_stem(dataset_id))
}

/// The generation table that version `version` started.
pub fn generation_table(dataset_id: &str, version: i64) -> String {
    format!("{}_g{version}", dataset_stem(dataset_id))
}

/// Indexes of a generation table that starts at version `first`: its key (a row id in each
/// version it changed in), the row identifier unique among live rows, the columns marked
/// `indexed`, the rows versions left (which clean-up deletes and diffs read) and the rows later
/// versions began (which diffs read; empty when the generation starts, so free to build).
pub fn generation_index_sqls(table: &str, schema: &Schema, first: i64) -> Vec<String> {
    let from = quote_ident(FROM_VERSION_COLUMN);
    let to = quote_ident(TO_VERSION_COLUMN);
    let mut statements = vec![
        format!(
            "ALTER TABLE {} ADD PRIMARY KEY ({}, {from})",
            qualified(table),
            quote_ident(ID_COLUMN)
        ),
        format!(
            "CREATE INDEX ON {} ({to}) WHERE {to} IS NOT NULL",
            qualified(table)
        ),
        format!(
            "CREATE INDEX ON {} ({from}) WHERE {from} > {first}",
            qualified(table)
        ),
    ];
    if let Some(row_identifier) = schema.row_identifier.as_deref() {
        // Unique among live rows; and indexed whole, for lookups in any version's view.
        statements.push(format!(
            "CREATE UNIQUE INDEX ON {} ({}) WHERE {to} IS NULL",
            qualified(table),
            quote_ident(row_identifier)
        ));
        statements.push(format!(
            "CREATE INDEX ON {} ({})",
            qualified(table),
            quote_ident(row_identifier)
        ));
    }
    statements.extend(column_index_sqls(table, schema));
    statements
}

/// The view of version `version` over its generation `generation`: the rows it holds, with the
/// dataset's columns.
pub fn version_view_sql(view: &str, generation: &str, version: i64, columns: &str) -> String {
    let from = quote_ident(FROM_VERSION_COLUMN);
    let to = quote_ident(TO_VERSION_COLUMN);
    format!(
        "CREATE VIEW {} AS SELECT {columns} FROM {} \
         WHERE {from} <= {version} AND ({to} IS NULL OR {to} > {version})",
        qualified(view),
        qualified(generation)
    )
}

/// The row-id sequence of a dataset.
pub fn id_sequence(dataset_id: &str) -> String {
    format!("{}_ids", dataset_stem(dataset_id))
}

/// The working table an upload loads into before it becomes a version.
pub fn working_table(upload_id: Uuid) -> String {
    format!("up_{}", upload_id.simple())
}

/// `CREATE SEQUENCE IF NOT EXISTS` for a dataset's row ids.
pub fn create_sequence_sql(dataset_id: &str) -> String {
    format!(
        "CREATE SEQUENCE IF NOT EXISTS {}",
        qualified(&id_sequence(dataset_id))
    )
}

/// `CREATE TABLE` for rows of `schema`, with system columns defaulted.
pub fn create_table_sql(table: &str, dataset_id: &str, schema: &Schema) -> String {
    let sequence = qualified(&id_sequence(dataset_id)).replace('\'', "''");
    let [
        (id, id_type),
        (created, created_type),
        (updated, updated_type),
    ] = SYSTEM_COLUMNS;
    let mut sql = format!(
        "CREATE TABLE {} ({} {id_type} NOT NULL DEFAULT nextval('{sequence}'), {} {created_type} NOT NULL DEFAULT now(), {} {updated_type} NOT NULL DEFAULT now()",
        qualified(table),
        quote_ident(id),
        quote_ident(created),
        quote_ident(updated),
    );
    for column in &schema.columns {
        sql.push_str(&format!(
            ", {} {}",
            quote_ident(&column.field_name),
            column.column_type.sql_type()
        ));
    }
    sql.push(')');
    sql
}

/// Indexes of the columns marked `indexed` (the row identifier has its own).
fn column_index_sqls(table: &str, schema: &Schema) -> Vec<String> {
    let mut statements = Vec::new();
    for column in schema.columns.iter().filter(|c| c.indexed) {
        if Some(column.field_name.as_str()) == schema.row_identifier.as_deref() {
            continue;
        }
        let method = match column.column_type {
            crate::schema::ColumnType::Point => "USING gist ",
            crate::schema::ColumnType::Location | crate::schema::ColumnType::Url => "USING gin ",
            _ => "",
        };
        statements.push(format!(
            "CREATE INDEX ON {} {method}({})",
            qualified(table),
            quote_ident(&column.field_name)
        ));
    }
    statements
}

/// Grants the reader role `SELECT` on a table.
pub fn grant_read_sql(table: &str) -> String {
    format!("GRANT SELECT ON {} TO {READER_ROLE}", qualified(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    #[test]
    fn names_are_derived_from_ids() {
        assert_eq!(version_table("abcd-1234", 3), "ds_abcd_1234_v3");
        assert_eq!(id_sequence("abcd-1234"), "ds_abcd_1234_ids");
        let upload = Uuid::parse_str("0190c3f2-7b1a-7c3e-9d2f-1a2b3c4d5e6f").unwrap();
        assert_eq!(working_table(upload), "up_0190c3f27b1a7c3e9d2f1a2b3c4d5e6f");
    }

    #[test]
    fn ddl_quotes_every_identifier() {
        let schema = Schema {
            columns: vec![Column {
                field_name: "sale_amount".into(),
                display_name: "Sale Amount".into(),
                column_type: ColumnType::Number,
                description: String::new(),
                position: 1,
                id: 0,
                indexed: true,
            }],
            row_identifier: Some("sale_amount".into()),
        };
        let sql = create_table_sql("up_1", "abcd-1234", &schema);
        assert!(sql.contains(r#"data."up_1""#), "{sql}");
        assert!(sql.contains(r#""sale_amount" numeric"#), "{sql}");
        assert!(
            sql.contains(r#"nextval('data."ds_abcd_1234_ids"')"#),
            "{sql}"
        );
        let indexes = generation_index_sqls("ds_abcd_1234_g1", &schema, 1);
        assert_eq!(
            indexes.len(),
            5,
            "the key, the ended rows, the later rows, the row identifier unique among live rows \
             and whole: {indexes:?}"
        );
        assert!(
            indexes[2].ends_with(r#"(":from_version") WHERE ":from_version" > 1"#),
            "{indexes:?}"
        );
        assert!(
            indexes[3].ends_with(r#"("sale_amount") WHERE ":to_version" IS NULL"#),
            "{indexes:?}"
        );
        let view = version_view_sql("ds_abcd_1234_v3", "ds_abcd_1234_g1", 3, r#""a""#);
        assert_eq!(
            view,
            r#"CREATE VIEW data."ds_abcd_1234_v3" AS SELECT "a" FROM data."ds_abcd_1234_g1" WHERE ":from_version" <= 3 AND (":to_version" IS NULL OR ":to_version" > 3)"#
        );
    }
}
