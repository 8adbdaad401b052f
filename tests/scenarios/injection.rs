//! Injection attempts through every parameter of the public API are inert: they are refused as
//! bad queries or treated as plain values, never executed, and nothing stored changes.

use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::TestStack;

use crate::support::*;

const HOSTILE: &[&str] = &[
    "'; DROP TABLE raw.canary; --",
    "town'); DROP TABLE raw.canary; --",
    "1; DELETE FROM raw.canary",
    "\"; DROP TABLE raw.canary; --",
    "` ; DROP TABLE raw.canary; --",
    "town) UNION SELECT usename FROM pg_user --",
    "1 OR 1=1",
    "' OR '1'='1",
    "$1",
    "pg_sleep(5)",
    "(SELECT count(*) FROM raw.canary)",
    "town; SET ROLE postgres",
    "\\'; DROP TABLE raw.canary; --",
    "COPY raw.canary TO PROGRAM 'touch /tmp/pwned'",
];

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn hostile_input_in_every_parameter_is_inert() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(
        &stack,
        "opm",
        vec![
            column("Town", ColumnType::Text),
            column("Amount", ColumnType::Number),
        ],
        "",
    )
    .await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town,Amount\nAvon,1\nBristol,2\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 1).await;
    sqlx::raw_sql(
        "CREATE SCHEMA raw; CREATE TABLE raw.canary (x int); INSERT INTO raw.canary VALUES (1)",
    )
    .execute(&stack.pool)
    .await
    .unwrap();
    let tables_before: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables")
        .fetch_one(&stack.pool)
        .await
        .unwrap();

    let parameters = [
        "$select", "$where", "$order", "$group", "$having", "$q", "$query", "$limit", "$offset",
        "town", "amount",
    ];
    let client = reqwest::Client::new();
    let mut requests = 0;
    for hostile in HOSTILE {
        let encoded = encode(hostile);
        let mut urls: Vec<String> = parameters
            .iter()
            .map(|p| format!("/resource/{dataset}.json?{p}={encoded}"))
            .collect();
        urls.push(format!("/resource/{dataset}.json?{encoded}=x"));
        urls.push(format!("/resource/{encoded}.json"));
        urls.push(format!("/api/views/{encoded}.json"));
        urls.push(format!(
            "/resource/{dataset}.json?$where=town%3D{}",
            encode(&format!("'{}'", hostile.replace('\'', "''")))
        ));
        for url in urls {
            let response = client
                .get(format!("{}{url}", stack.edge_url()))
                .header("if-none-match", hostile.replace(['\r', '\n'], ""))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert!(
                status == 200 || (400..500).contains(&status),
                "{url} gave {status}: {body}"
            );
            for leak in [
                "syntax error at or near",
                "ERROR:",
                "SQLSTATE",
                "data.\"ds_",
                "\"up_",
            ] {
                assert!(
                    !body.contains(leak) || status == 200,
                    "{url} leaks `{leak}`: {body}"
                );
            }
            requests += 1;
        }
    }
    assert!(requests > 200);
    let canary: i64 = sqlx::query_scalar("SELECT count(*) FROM raw.canary")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(canary, 1, "the canary table is untouched");
    let tables_after: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(tables_after, tables_before);
    assert!(!std::path::Path::new("/tmp/pwned").exists());
    assert_eq!(
        get(&stack, &format!("/resource/{dataset}.csv?$order=town"))
            .await
            .body,
        "\"town\",\"amount\"\n\"Avon\",\"1\"\n\"Bristol\",\"2\"\n"
    );
    stack.stop().await;
}
