//! The one place two services share more than proto and events: dataset rows in PostgreSQL's
//! `data` schema, which ingestion writes and the catalog reads (`docs/architecture.md`). The
//! contract is written down in `opendata_datastore::table`, and this test holds both services to
//! it: the version tables are named as it names them, both services record the same names, the
//! columns are its system columns then the schema's in order with its types, and the reader role
//! may read a version and change nothing.

use opendata_datastore::schema::ColumnType as StoredType;
use opendata_datastore::table::{
    DATA_SCHEMA, READER_ROLE, SYSTEM_COLUMNS, generation_table, qualified, version_table,
};
use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::TestStack;

use crate::support::{column, published_dataset, push, wait_for_version};

#[tokio::test]
async fn ingestion_and_the_catalog_keep_to_the_data_schema_contract() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(
        &stack,
        "opm",
        vec![
            column("Town", ColumnType::Text),
            column("Population", ColumnType::Number),
            column("Counted", ColumnType::CalendarDate),
        ],
        "",
    )
    .await;
    let file = b"Town,Population,Counted\nAvon,18000,2020-04-01\n";
    push(&stack, &key, &dataset, UploadMode::Replace, file).await;
    push(&stack, &key, &dataset, UploadMode::Append, file).await;
    wait_for_version(&stack, &dataset, 2).await;

    // Both services name each version's table as the datastore does.
    for version in [1_i64, 2] {
        let expected = version_table(&dataset, version);
        for (service, sql) in [
            (
                "ingestion",
                "SELECT table_name FROM ingestion.versions WHERE dataset_id = $1 AND version = $2",
            ),
            (
                "catalog",
                "SELECT table_name FROM catalog.versions WHERE dataset_id = $1 AND version = $2",
            ),
        ] {
            let recorded: String = sqlx::query_scalar(sql)
                .bind(&dataset)
                .bind(version)
                .fetch_one(&stack.pool)
                .await
                .unwrap_or_else(|error| panic!("{service} version {version}: {error}"));
            assert_eq!(recorded, expected, "{service} version {version}");
        }
    }
    let current: String =
        sqlx::query_scalar("SELECT current_table FROM catalog.datasets WHERE id = $1")
            .bind(&dataset)
            .fetch_one(&stack.pool)
            .await
            .expect("current table");
    assert_eq!(current, version_table(&dataset, 2));
    let table = format!("{DATA_SCHEMA}.\"{current}\"");

    // The system columns, then the schema's, in order, each of the type the datastore stores.
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute \
         WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind(&table)
    .fetch_all(&stack.pool)
    .await
    .expect("columns");
    let expected: Vec<(&str, &str)> = SYSTEM_COLUMNS
        .into_iter()
        .chain([
            ("town", StoredType::Text.sql_type()),
            ("population", StoredType::Number.sql_type()),
            ("counted", StoredType::CalendarDate.sql_type()),
        ])
        .collect();
    let names: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    assert_eq!(columns, names);
    for (name, sql_type) in expected {
        let matches: bool = sqlx::query_scalar(
            "SELECT atttypid = $3::regtype FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attname = $2",
        )
        .bind(&table)
        .bind(name)
        .bind(sql_type)
        .fetch_one(&stack.pool)
        .await
        .expect("column type");
        assert!(matches, "{name} is not {sql_type}");
    }

    // The reader role reads a version and changes nothing.
    for (privilege, expected) in [
        ("SELECT", true),
        ("INSERT", false),
        ("UPDATE", false),
        ("DELETE", false),
        ("TRUNCATE", false),
    ] {
        let granted: bool = sqlx::query_scalar("SELECT has_table_privilege($1, $2, $3)")
            .bind(READER_ROLE)
            .bind(&table)
            .bind(privilege)
            .fetch_one(&stack.pool)
            .await
            .expect("privilege");
        assert_eq!(granted, expected, "{READER_ROLE} {privilege}");
    }
    // ... through its view only: the generation's rows of other versions stay out of reach.
    let generation = qualified(&generation_table(&dataset, 1));
    let reads_generation: bool = sqlx::query_scalar("SELECT has_table_privilege($1, $2, 'SELECT')")
        .bind(READER_ROLE)
        .bind(&generation)
        .fetch_one(&stack.pool)
        .await
        .expect("privilege");
    assert!(!reads_generation, "{READER_ROLE} reads {generation}");
    stack.stop().await;
}
