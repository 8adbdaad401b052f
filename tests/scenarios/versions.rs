//! Version history: every committed version listed, newest first, with who committed it, when,
//! how, its rows and its columns (`GET /api/views/{id}/versions`), to whoever may see the dataset.

use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestStack, wait_until};

use crate::support::*;

#[tokio::test]
async fn the_history_lists_each_version_with_who_committed_it() {
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
        b"Town,Amount\nAvon,1\n",
    )
    .await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Append,
        b"Town,Amount\nBristol,2\nCanton,3\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 2).await;

    let response = get(&stack, &format!("/api/views/{dataset}/versions")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let history = response.json();
    assert_eq!(history["id"], dataset.as_str());
    let versions = history["versions"].as_array().unwrap();
    let summary: Vec<(i64, bool, &str, i64)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["current"].as_bool().unwrap(),
                v["mode"].as_str().unwrap(),
                v["rowCount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![(2, true, "append", 3), (1, false, "replace", 1)]
    );
    let newest = &versions[0];
    assert_eq!(newest["committedBy"]["displayName"], "opm role_publisher");
    assert!(!newest["committedBy"]["id"].as_str().unwrap().is_empty());
    assert_eq!(
        newest["columns"],
        serde_json::json!([
            {"fieldName": "town", "name": "Town", "dataTypeName": "text"},
            {"fieldName": "amount", "name": "Amount", "dataTypeName": "number"},
        ])
    );
    let committed = newest["committedAt"].as_str().unwrap();
    let activated = newest["activatedAt"].as_str().unwrap();
    assert!(
        committed.ends_with('Z') && committed <= activated,
        "{committed} {activated}"
    );
    assert_eq!(
        newest["dataAsOf"], newest["committedAt"],
        "no extract date given"
    );

    // A private dataset's history is as hidden as the dataset.
    let private = create_dataset(
        &stack,
        &key,
        "opm",
        vec![column("Town", ColumnType::Text)],
        "",
    )
    .await;
    let hidden = get(&stack, &format!("/api/views/{private}/versions")).await;
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    let unknown = get(&stack, "/api/views/not-an-id/versions").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    stack.stop().await;
}

#[tokio::test]
async fn catalogs_list_only_what_changed_since_a_time() {
    let stack = TestStack::start().await;
    let columns = || vec![column("Town", ColumnType::Text)];
    let (_, before) = published_dataset(&stack, "opm", columns(), "").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, after) = published_dataset(&stack, "opm", columns(), "").await;

    let ids = |entries: &serde_json::Value, key: &str| -> Vec<String> {
        let mut ids: Vec<String> = entries
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry[key].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let everything = get(&stack, "/data.json").await.json();
    assert_eq!(everything["dataset"].as_array().unwrap().len(), 2);
    let recent = get(&stack, &format!("/data.json?modified_since={since}")).await;
    assert_eq!(recent.status, 200, "{}", recent.body);
    let identifiers = ids(&recent.json()["dataset"], "identifier");
    assert_eq!(identifiers.len(), 1, "{identifiers:?}");
    assert!(identifiers[0].ends_with(&after), "{identifiers:?} {before}");

    wait_until(EVENTUALLY, "both datasets to be searchable", || {
        let stack = &stack;
        async move {
            let body = get(stack, "/api/catalog/v1").await.json();
            (body["resultSetSize"] == 2).then_some(())
        }
    })
    .await;
    let found = get(&stack, &format!("/api/catalog/v1?modified_since={since}")).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let results = found.json()["results"].clone();
    let found: Vec<String> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(found, vec![after.clone()]);

    for path in ["/data.json", "/api/catalog/v1"] {
        let bad = get(&stack, &format!("{path}?modified_since=last+week")).await;
        assert_eq!(bad.status, 400, "{path}: {}", bad.body);
        assert_eq!(bad.json()["data"]["parameter"], "modified_since", "{path}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_kept_version_is_read_with_dollar_version() {
    // Retired versions' tables are kept ten minutes here, as a retention would keep them.
    let stack = TestStack::start_with(opendata_testkit::TestOptions {
        retired_table_grace_secs: 600,
        ..Default::default()
    })
    .await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Append,
        b"Town\nBristol\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 2).await;

    let towns = |response: &HttpResponse| -> Vec<String> {
        response
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["town"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = get(
        &stack,
        &format!("/resource/{dataset}.json?$version=1&$order=town"),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(towns(&first), ["Avon"]);
    let history = get(&stack, &format!("/api/views/{dataset}/versions"))
        .await
        .json();
    let kept: Vec<bool> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kept"].as_bool().unwrap())
        .collect();
    assert_eq!(kept, [true, true], "both tables are kept");
    let current = get(
        &stack,
        &format!("/resource/{dataset}.json?$version=2&$order=town"),
    )
    .await;
    assert_eq!(towns(&current), ["Avon", "Bristol"]);
    let plain = get(&stack, &format!("/resource/{dataset}.json?$order=town")).await;
    assert_eq!(towns(&plain), ["Avon", "Bristol"]);
    assert_ne!(
        first.header("etag"),
        current.header("etag"),
        "each version its ETag"
    );
    let csv = get(&stack, &format!("/resource/{dataset}.csv?$version=1")).await;
    assert_eq!(csv.body.trim(), "\"town\"\n\"Avon\"");

    for (version, says) in [
        ("3", "has no version 3; its versions run from 1 to 2"),
        ("0", "takes a version number"),
        ("latest", "takes a version number"),
    ] {
        let response = get(
            &stack,
            &format!("/resource/{dataset}.json?$version={version}"),
        )
        .await;
        assert_eq!(response.status, 400, "{version}: {}", response.body);
        let error = response.json();
        assert_eq!(error["data"]["parameter"], "$version", "{error}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_version_no_longer_kept_is_refused_by_name() {
    // Retired versions' tables go as soon as no query can be reading them.
    let stack = TestStack::start().await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town\nBristol\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 2).await;
    let refused = wait_until(EVENTUALLY, "version 1's table to be dropped", || {
        let stack = &stack;
        let dataset = &dataset;
        async move {
            let response = get(stack, &format!("/resource/{dataset}.json?$version=1")).await;
            (response.status == 400).then_some(response)
        }
    })
    .await;
    let error = refused.json();
    assert_eq!(error["data"]["parameter"], "$version", "{error}");
    let history = get(&stack, &format!("/api/views/{dataset}/versions"))
        .await
        .json();
    assert_eq!(history["versions"][0]["kept"], true);
    assert_eq!(history["versions"][1]["kept"], false, "{history}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("version 1 of dataset"),
        "{error}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn appends_and_upserts_store_only_what_changed() {
    let stack = TestStack::start_with(opendata_testkit::TestOptions {
        retired_table_grace_secs: 600,
        ..Default::default()
    })
    .await;
    let (key, dataset) = amounts_by_town(&stack).await;
    let file = amounts_file;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &file("Avon,1\nBristol,2\nCanton,3\n"),
    )
    .await;
    // Bristol changes, Canton is sent unchanged, Derby is new.
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Upsert,
        &file("Bristol,20\nCanton,3\nDerby,4\n"),
    )
    .await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Append,
        &file("Essex,5\n"),
    )
    .await;
    wait_for_version(&stack, &dataset, 3).await;

    let row = generation_row;
    assert_eq!(
        generation_rows(&stack, &dataset, 1).await,
        vec![
            row("Avon", "1", 1, None),
            row("Bristol", "2", 1, Some(2)),
            row("Bristol", "20", 2, None),
            row("Canton", "3", 1, None),
            row("Derby", "4", 2, None),
            row("Essex", "5", 3, None),
        ],
        "six rows for three versions of three, four and five: the changes only"
    );
    // Each version's rows, counted as the commit wrote them.
    let history = get(&stack, &format!("/api/views/{dataset}/versions"))
        .await
        .json();
    let counts: Vec<i64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rowCount"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [5, 4, 3]);
    let amounts = |body: serde_json::Value| -> Vec<(String, String)> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["town"].as_str().unwrap().to_owned(),
                    r["amount"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let read = |version: i64| {
        let stack = &stack;
        let dataset = &dataset;
        async move {
            amounts(
                get(
                    stack,
                    &format!("/resource/{dataset}.json?$version={version}&$order=town"),
                )
                .await
                .json(),
            )
        }
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(t, a)| ((*t).to_owned(), (*a).to_owned()))
            .collect()
    };
    assert_eq!(
        read(1).await,
        pairs(&[("Avon", "1"), ("Bristol", "2"), ("Canton", "3")])
    );
    assert_eq!(
        read(2).await,
        pairs(&[
            ("Avon", "1"),
            ("Bristol", "20"),
            ("Canton", "3"),
            ("Derby", "4")
        ])
    );
    assert_eq!(
        read(3).await,
        pairs(&[
            ("Avon", "1"),
            ("Bristol", "20"),
            ("Canton", "3"),
            ("Derby", "4"),
            ("Essex", "5")
        ])
    );
    // Row ids and creation times stay with the row across versions.
    let ids = |body: serde_json::Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r[":id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = ids(get(
        &stack,
        &format!("/resource/{dataset}.json?$select=:id&$version=1&$order=town"),
    )
    .await
    .json());
    let last = ids(get(
        &stack,
        &format!("/resource/{dataset}.json?$select=:id&$order=town"),
    )
    .await
    .json());
    assert_eq!(first[..3], last[..3]);

    // A replace starts a new generation; the first goes when no version of it is kept.
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &file("Avon,9\n"),
    )
    .await;
    wait_for_version(&stack, &dataset, 4).await;
    assert_eq!(
        generation_rows(&stack, &dataset, 4).await,
        vec![row("Avon", "9", 4, None)]
    );
    stack.stop().await;
}

#[tokio::test]
async fn retired_versions_take_their_rows_with_them() {
    // Retired versions go as soon as no query can be reading them.
    let stack = TestStack::start().await;
    let (key, dataset) = amounts_by_town(&stack).await;
    let file = amounts_file;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &file("Avon,1\nBristol,2\n"),
    )
    .await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Upsert,
        &file("Bristol,20\n"),
    )
    .await;
    wait_for_version(&stack, &dataset, 2).await;
    wait_until(EVENTUALLY, "version 1's rows to be pruned", || {
        let stack = &stack;
        let dataset = &dataset;
        async move {
            let rows = generation_rows(stack, dataset, 1).await;
            (rows.len() == 2).then_some(rows)
        }
    })
    .await;
    assert_eq!(
        generation_rows(&stack, &dataset, 1).await,
        vec![
            ("Avon".to_owned(), "1".to_owned(), 1, None),
            ("Bristol".to_owned(), "20".to_owned(), 2, None),
        ]
    );
    // A replace leaves generation 1 without a kept version: it is dropped.
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &file("Canton,3\n"),
    )
    .await;
    wait_for_version(&stack, &dataset, 3).await;
    let table = format!("ds_{}_g1", dataset.replace('-', "_"));
    wait_until(EVENTUALLY, "generation 1 to be dropped", || {
        let stack = &stack;
        let table = &table;
        async move {
            let exists: bool =
                sqlx::query_scalar("SELECT to_regclass('data.' || quote_ident($1)) IS NOT NULL")
                    .bind(table)
                    .fetch_one(&stack.pool)
                    .await
                    .unwrap();
            (!exists).then_some(())
        }
    })
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn upserts_compare_points_and_keys_change_again_and_again() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(
        &stack,
        "opm",
        vec![
            column("Town", ColumnType::Text),
            column("Location", ColumnType::Point),
        ],
        "town",
    )
    .await;
    let file = |rows: &str| format!("Town,Location\n{rows}").into_bytes();
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &file("Avon,POINT (-72.86 41.80)\nBristol,POINT (-72.95 41.67)\n"),
    )
    .await;
    // Avon moves, Bristol is sent as it is; then Avon moves again.
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Upsert,
        &file("Avon,POINT (-72.80 41.80)\nBristol,POINT (-72.95 41.67)\n"),
    )
    .await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Upsert,
        &file("Avon,POINT (-72.70 41.80)\n"),
    )
    .await;
    wait_for_version(&stack, &dataset, 3).await;
    let table = format!("ds_{}_g1", dataset.replace('-', "_"));
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT town, location::text, \":from_version\", \":to_version\" FROM data.\"{table}\" \
         ORDER BY town, \":from_version\""
    ))
    .fetch_all(&stack.pool)
    .await
    .unwrap();
    let row = |town: &str, at: &str, from: i64, to: Option<i64>| {
        (town.to_owned(), at.to_owned(), from, to)
    };
    assert_eq!(
        rows,
        vec![
            row("Avon", "(-72.86,41.8)", 1, Some(2)),
            row("Avon", "(-72.8,41.8)", 2, Some(3)),
            row("Avon", "(-72.7,41.8)", 3, None),
            row("Bristol", "(-72.95,41.67)", 1, None),
        ]
    );
    // An append may not bring an identifier a live row has.
    let upload = create_upload(&stack, &key, &dataset, UploadMode::Append, 0.0)
        .await
        .unwrap();
    send_file(
        &stack,
        &key,
        &upload.id,
        &file("Bristol,POINT (0 0)\n"),
        1024,
    )
    .await
    .unwrap();
    let refused = commit(&stack, &key, &upload.id).await.unwrap_err();
    assert!(refused.message().contains("`Bristol`"), "{refused:?}");
    stack.stop().await;
}
