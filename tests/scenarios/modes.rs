//! Replace, append and upsert: what readers see before, during and after each commit.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestStack, wait_until};
use serde_json::Value;

use crate::support::*;

fn columns() -> Vec<opendata_proto::common::v1::Column> {
    vec![
        column("Id", ColumnType::Number),
        column("Value", ColumnType::Text),
        column("Note", ColumnType::Text),
    ]
}

/// The rows as (id, value, note) strings, sorted.
async fn rows(stack: &TestStack, dataset: &str) -> BTreeSet<(String, String, String)> {
    let response = get(stack, &format!("/resource/{dataset}.json?$limit=100000")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let text = |row: &Value, field: &str| {
        row.get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    response
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(|row| (text(row, "id"), text(row, "value"), text(row, "note")))
        .collect()
}

fn set(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

#[tokio::test]
async fn replace_keeps_old_rows_until_commit_and_never_mixes() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(&stack, "opm", columns(), "id").await;
    let old_file: String = std::iter::once("Id,Value,Note\n".to_owned())
        .chain((1..=500).map(|i| format!("{i},old,\n")))
        .collect();
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        old_file.as_bytes(),
    )
    .await;
    wait_for_version(&stack, &dataset, 1).await;
    let old = rows(&stack, &dataset).await;
    assert_eq!(old.len(), 500);

    let upload = create_upload(&stack, &key, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap();
    let new_file: String = std::iter::once("Id,Value,Note\n".to_owned())
        .chain((1001..=1300).map(|i| format!("{i},new,n\n")))
        .collect();
    send_file(&stack, &key, &upload.id, new_file.as_bytes(), 4096)
        .await
        .unwrap();
    assert_eq!(
        rows(&stack, &dataset).await,
        old,
        "loaded but uncommitted rows are invisible"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let edge = stack.edge_url();
        let dataset = dataset.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let body = reqwest::get(format!("{edge}/resource/{dataset}.json?$limit=100000"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let values: BTreeSet<String> = serde_json::from_str::<Vec<Value>>(&body)
                    .unwrap()
                    .iter()
                    .map(|row| row["value"].as_str().unwrap().to_owned())
                    .collect();
                let count = body.matches("\"id\"").count();
                seen.push((values, count));
            }
            seen
        })
    };
    commit(&stack, &key, &upload.id).await.unwrap();
    wait_for_version(&stack, &dataset, 2).await;
    wait_until(EVENTUALLY, "the reader to see the new rows", || {
        let stack = &stack;
        let dataset = &dataset;
        async move { (rows(stack, dataset).await.len() == 300).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = reader.await.unwrap();
    assert!(!seen.is_empty());
    for (values, count) in &seen {
        let only_old = values.len() == 1 && values.contains("old") && *count == 500;
        let only_new = values.len() == 1 && values.contains("new") && *count == 300;
        assert!(
            only_old || only_new,
            "a reader saw a mix: {values:?} in {count} rows"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn append_adds_rows_and_upsert_updates_by_row_identifier() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(&stack, "decd", columns(), "id").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Id,Value,Note\n1,a,x\n2,b,y\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 1).await;

    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Append,
        b"Id,Value,Note\n3,c,z\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 2).await;
    assert_eq!(
        rows(&stack, &dataset).await,
        set(&[("1", "a", "x"), ("2", "b", "y"), ("3", "c", "z")])
    );

    // Row 2 is updated (its note, absent from the file, is kept), row 4 is new, and when the file
    // repeats an identifier its last row wins.
    let upserted = push(
        &stack,
        &key,
        &dataset,
        UploadMode::Upsert,
        b"Value,Id\nB,2\nd,4\nD,4\n",
    )
    .await;
    assert_eq!(upserted.rows_loaded, 3);
    wait_for_version(&stack, &dataset, 3).await;
    assert_eq!(
        rows(&stack, &dataset).await,
        set(&[
            ("1", "a", "x"),
            ("2", "B", "y"),
            ("3", "c", "z"),
            ("4", "D", "")
        ])
    );
    let dataset_row_count = stack
        .clients(Some(&key))
        .catalog
        .get_dataset(opendata_proto::catalog::v1::GetDatasetRequest {
            id: dataset.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .row_count;
    assert_eq!(dataset_row_count, 4);
    stack.stop().await;
}

#[tokio::test]
async fn duplicate_row_identifiers_fail_the_commit_and_keep_the_old_version() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(&stack, "opm", columns(), "id").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Id,Value,Note\n1,a,\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 1).await;

    let upload = create_upload(&stack, &key, &dataset, UploadMode::Append, 0.0)
        .await
        .unwrap();
    send_file(&stack, &key, &upload.id, b"Id,Value,Note\n1,again,\n", 64)
        .await
        .unwrap();
    let status = commit(&stack, &key, &upload.id).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("`1`"), "{}", status.message());
    assert_eq!(rows(&stack, &dataset).await, set(&[("1", "a", "")]));
    stack.stop().await;
}
