//! Row-level diffs between kept versions (`/api/views/{id}/diff`, `.json`, `.csv`, `opendata
//! diff`): rows matched by the row identifier within a generation and across a replace, whole
//! rows without one, pages, validators, and refusals naming the parameter.

use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::binary;
use serde_json::{Value, json};

use crate::support::*;

/// The summary's counts: (added, removed, changed).
fn counts(summary: &Value) -> (u64, u64, u64) {
    let count = |name: &str| {
        summary[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{summary}"))
    };
    (count("added"), count("removed"), count("changed"))
}

#[tokio::test]
async fn rows_are_matched_by_identifier_within_a_generation_and_across_a_replace() {
    let stack = keeping_versions().await;
    let (key, dataset) = amounts_by_town(&stack).await;
    let pushes = [
        (
            UploadMode::Replace,
            "Avon,1\nBristol,2\nCanton,3\nDarien,4\n",
        ),
        (UploadMode::Upsert, "Bristol,20\nEnfield,5\n"),
        // Bristol goes back to what it was in version 1.
        (UploadMode::Upsert, "Bristol,2\nCanton,30\n"),
        (
            UploadMode::Replace,
            "Avon,1\nCanton,30\nEnfield,5\nFarmington,6\n",
        ),
    ];
    push_amounts(&stack, &key, &dataset, &pushes).await;
    wait_for_version(&stack, &dataset, 4).await;
    let summary = |from: i64, to: i64| {
        let stack = &stack;
        let dataset = &dataset;
        async move {
            let response = get(
                stack,
                &format!("/api/views/{dataset}/diff?from={from}&to={to}"),
            )
            .await;
            assert_eq!(response.status, 200, "{from}→{to}: {}", response.body);
            response.json()
        }
    };
    let first = summary(1, 2).await;
    assert_eq!(counts(&first), (1, 0, 1), "{first}");
    assert_eq!(first["rowIdentifier"], "town");
    assert_eq!(first["columns"], json!(["town", "amount"]));
    assert_eq!(
        first["rows"]["csv"],
        format!("/api/views/{dataset}/diff.csv?from=1&to=2")
    );
    assert_eq!(
        counts(&summary(1, 3).await),
        (1, 0, 1),
        "Bristol is back: unchanged"
    );
    assert_eq!(counts(&summary(2, 3).await), (0, 0, 2));
    assert_eq!(
        counts(&summary(3, 4).await),
        (1, 2, 0),
        "across the replace"
    );
    assert_eq!(counts(&summary(1, 4).await), (2, 2, 1));

    let rows = get(
        &stack,
        &format!("/api/views/{dataset}/diff.json?from=1&to=2"),
    )
    .await;
    assert_eq!(rows.status, 200, "{}", rows.body);
    assert_eq!(
        rows.json(),
        json!([
            {":change": "changed", "town": "Bristol", "amount": "20",
             ":changed_fields": "amount", ":old_amount": "2"},
            {":change": "added", "town": "Enfield", "amount": "5"},
        ])
    );
    assert_eq!(
        rows.header("x-soda2-fields"),
        Some(r#"[":change","town","amount",":changed_fields",":old_amount"]"#)
    );
    let all = get(
        &stack,
        &format!("/api/views/{dataset}/diff.json?from=1&to=4"),
    )
    .await
    .json();
    let changes: Vec<(String, String)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[":change"].as_str().unwrap().to_owned(),
                row["town"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("removed", "Bristol"),
        ("changed", "Canton"),
        ("removed", "Darien"),
        ("added", "Enfield"),
        ("added", "Farmington"),
    ];
    assert_eq!(
        changes,
        expected.map(|(change, town)| (change.to_owned(), town.to_owned()))
    );
    let removed = &all[0];
    assert_eq!(
        removed["amount"], "2",
        "a removed row carries its last values: {removed}"
    );

    // Pages, the same page again from the validator, and CSV.
    let page = get(
        &stack,
        &format!("/api/views/{dataset}/diff.json?from=1&to=4&$limit=2&$offset=2"),
    )
    .await;
    let towns: Vec<Value> = page
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["town"].clone())
        .collect();
    assert_eq!(towns, ["Darien", "Enfield"]);
    let etag = page.header("etag").unwrap().to_owned();
    let again = get_with(
        &stack,
        &format!("/api/views/{dataset}/diff.json?from=1&to=4&$limit=2&$offset=2"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status, 304);
    let csv = get(
        &stack,
        &format!("/api/views/{dataset}/diff.csv?from=2&to=3"),
    )
    .await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(
        csv.body.trim(),
        "\":change\",\"town\",\"amount\",\":changed_fields\",\":old_amount\"\n\
         \"changed\",\"Bristol\",\"2\",\"amount\",\"20\"\n\
         \"changed\",\"Canton\",\"30\",\"amount\",\"3\""
    );

    // Refusals name the parameter.
    for (query, parameter, says) in [
        ("from=3&to=2", "from", "must be an older version than to"),
        ("from=1&to=9", "to", "has no version 9"),
        ("to=2", "from", "from is required"),
        ("from=1&to=2&$where=x", "$where", "unknown parameter"),
    ] {
        let response = get(&stack, &format!("/api/views/{dataset}/diff?{query}")).await;
        assert_eq!(response.status, 400, "{query}: {}", response.body);
        let error = response.json();
        assert_eq!(error["data"]["parameter"], parameter, "{query}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{query}: {error}"
        );
    }
    let geojson = get(
        &stack,
        &format!("/api/views/{dataset}/diff.geojson?from=1&to=2"),
    )
    .await;
    assert_eq!(geojson.status, 404);

    // The command line: the summary on standard error, CSV rows on standard output.
    let output = tokio::process::Command::new(binary("debug"))
        .args(["diff", &dataset, "--from", "1", "--to", "4"])
        .env(
            "OPENDATA_CATALOG_URL",
            format!("http://{}", stack.addresses.catalog),
        )
        .env_remove("OPENDATA_KEY")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("v1 → v4: 2 added, 2 removed, 1 changed (rows matched by town)"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
    assert!(
        stdout.contains("\"changed\",\"Canton\",\"30\",\"amount\",\"3\""),
        "{stdout}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn rows_without_an_identifier_compare_whole_and_private_datasets_stay_hidden() {
    let stack = keeping_versions().await;
    let columns = || {
        vec![
            column("Town", ColumnType::Text),
            column("Amount", ColumnType::Number),
        ]
    };
    let (key, dataset) = published_dataset(&stack, "opm", columns(), "").await;
    let pushes = [
        (UploadMode::Replace, "Avon,1\nAvon,1\nBristol,2\n"),
        (UploadMode::Append, "Avon,1\nCanton,3\n"),
        (UploadMode::Replace, "Avon,1\nBristol,2\nCanton,3\n"),
    ];
    push_amounts(&stack, &key, &dataset, &pushes).await;
    wait_for_version(&stack, &dataset, 3).await;
    let summary = get(&stack, &format!("/api/views/{dataset}/diff?from=1&to=2"))
        .await
        .json();
    assert_eq!(counts(&summary), (2, 0, 0), "{summary}");
    assert!(summary["rowIdentifier"].is_null(), "{summary}");
    let rows = get(
        &stack,
        &format!("/api/views/{dataset}/diff.json?from=2&to=3"),
    )
    .await;
    assert_eq!(
        rows.json(),
        json!([
            {":change": "removed", "town": "Avon", "amount": "1"},
            {":change": "removed", "town": "Avon", "amount": "1"},
        ]),
        "two of the three Avon rows go"
    );
    assert_eq!(
        rows.header("x-soda2-fields"),
        Some(r#"[":change","town","amount"]"#)
    );

    // A dataset the public cannot see has no diff for it.
    let hidden = create_dataset(&stack, &key, "opm", columns(), "").await;
    let pushes = [
        (UploadMode::Replace, "Avon,1\n"),
        (UploadMode::Append, "Bristol,2\n"),
    ];
    push_amounts(&stack, &key, &hidden, &pushes).await;
    wait_for_version(&stack, &hidden, 2).await;
    for path in ["diff", "diff.json", "diff.csv"] {
        let response = get(&stack, &format!("/api/views/{hidden}/{path}?from=1&to=2")).await;
        assert_eq!(response.status, 404, "{path}: {}", response.body);
    }
    let staff = get_with(
        &stack,
        &format!("/api/views/{hidden}/diff?from=1&to=2"),
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await;
    assert_eq!(counts(&staff.json()), (1, 0, 0), "{}", staff.body);
    stack.stop().await;
}
