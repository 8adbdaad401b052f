//! The public REST API: paging, selection, filters, errors in Socrata's shape, `/api/views`,
//! `/data.json` (validated against the DCAT-US schema) and health.

use opendata_proto::common::v1::{ColumnType, Role};
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::TestStack;
use serde_json::{Value, json};

use crate::support::*;

async fn numbered_dataset(stack: &TestStack, rows: usize) -> (String, String) {
    let key = key_for(stack, "opm", Role::Publisher).await;
    let dataset = create_dataset(
        stack,
        &key,
        "opm",
        vec![
            column("N", ColumnType::Number),
            column("Town", ColumnType::Text),
            column("Sold", ColumnType::Checkbox),
        ],
        "n",
    )
    .await;
    let file: String = std::iter::once("N,Town,Sold\n".to_owned())
        .chain((1..=rows).map(|i| {
            format!(
                "{i},{},{}\n",
                if i % 3 == 0 { "Hartford" } else { "Avon" },
                i % 2 == 0
            )
        }))
        .collect();
    push(stack, &key, &dataset, UploadMode::Replace, file.as_bytes()).await;
    (key, dataset)
}

#[tokio::test]
async fn paging_selection_and_filters_follow_soda() {
    let stack = TestStack::start().await;
    let (_, dataset) = numbered_dataset(&stack, 1500).await;
    publish(&stack, &dataset).await;
    wait_for_version(&stack, &dataset, 1).await;

    let default_page = get(&stack, &format!("/resource/{dataset}.json"))
        .await
        .json();
    assert_eq!(
        default_page.as_array().unwrap().len(),
        1000,
        "the default $limit is exactly 1000"
    );
    let big_page = get(&stack, &format!("/resource/{dataset}.json?$limit=1200"))
        .await
        .json();
    assert_eq!(
        big_page.as_array().unwrap().len(),
        1200,
        "$limit has no maximum"
    );

    let page = get(
        &stack,
        &format!("/resource/{dataset}.json?$select=n,town&$order=n%20DESC&$limit=2&$offset=1"),
    )
    .await;
    assert_eq!(
        page.json(),
        json!([{"n": "1499", "town": "Avon"}, {"n": "1498", "town": "Avon"}])
    );
    assert_eq!(page.header("x-soda2-fields"), Some(r#"["n","town"]"#));

    let filtered = get(
        &stack,
        &format!("/resource/{dataset}.json?town=Hartford&sold=true&$order=n&$limit=3"),
    )
    .await
    .json();
    assert_eq!(
        filtered,
        json!([{"n": "6", "town": "Hartford", "sold": true}, {"n": "12", "town": "Hartford", "sold": true}, {"n": "18", "town": "Hartford", "sold": true}])
    );
    let by_number = get(&stack, &format!("/resource/{dataset}.json?n=1,000"))
        .await
        .json();
    assert_eq!(
        by_number,
        json!([{"n": "1000", "town": "Avon", "sold": true}])
    );

    let system = get(
        &stack,
        &format!("/resource/{dataset}.json?$select=:id,n&$order=:id&$limit=1"),
    )
    .await
    .json();
    assert!(
        system[0][":id"].as_str().unwrap().starts_with("row-"),
        "{system}"
    );

    let csv = get(
        &stack,
        &format!("/resource/{dataset}.csv?$select=n&$limit=2&$order=n&$$bom=true"),
    )
    .await;
    assert_eq!(csv.body, "\u{feff}\"n\"\n\"1\"\n\"2\"\n");
    stack.stop().await;
}

#[tokio::test]
async fn errors_come_in_socratas_shape() {
    let stack = TestStack::start().await;
    let (_, dataset) = numbered_dataset(&stack, 3).await;
    publish(&stack, &dataset).await;
    wait_for_version(&stack, &dataset, 1).await;

    let no_column = get(&stack, &format!("/resource/{dataset}.json?$select=price")).await;
    assert_eq!(no_column.status, 400);
    assert_eq!(
        no_column.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let body = no_column.json();
    assert_eq!(body["code"], "query.soql.no-such-column");
    assert_eq!(body["error"], true);
    assert_eq!(body["message"], "no such column: price");
    assert_eq!(body["data"]["column"], "price");
    assert_eq!(body["data"]["parameter"], "$select");

    let bad_limit = get(&stack, &format!("/resource/{dataset}.json?$limit=ten")).await;
    assert_eq!(bad_limit.status, 400);
    assert_eq!(bad_limit.json()["data"]["parameter"], "$limit");

    let typo = get(&stack, &format!("/resource/{dataset}.json?$selct=n")).await;
    assert_eq!(typo.status, 400);
    assert!(typo.json()["message"].as_str().unwrap().contains("$selct"));

    let mismatch = get(&stack, &format!("/resource/{dataset}.json?n=abc")).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.json()["code"], "query.soql.type-mismatch");

    for path in [
        "/resource/zzzz-zzzz.json",
        "/resource/not-an-id.json",
        "/api/views/zzzz-zzzz.json",
        "/nowhere",
    ] {
        let missing = get(&stack, path).await;
        assert_eq!(missing.status, 404, "{path}");
        assert_eq!(missing.json()["code"], "not_found", "{path}");
        assert_eq!(missing.json()["error"], true, "{path}");
    }
    let format = get(&stack, &format!("/resource/{dataset}.xml")).await;
    assert_eq!(format.status, 400);
    stack.stop().await;
}

#[tokio::test]
async fn unpublished_datasets_are_invisible_to_the_public() {
    let stack = TestStack::start().await;
    let (key, dataset) = numbered_dataset(&stack, 2).await;
    wait_for_version(&stack, &dataset, 1).await;
    for path in [
        format!("/resource/{dataset}.json"),
        format!("/resource/{dataset}.csv"),
        format!("/api/views/{dataset}.json"),
    ] {
        assert_eq!(get(&stack, &path).await.status, 404, "{path}");
    }
    assert!(!get(&stack, "/data.json").await.body.contains(&dataset));
    // Its own agency can read it with its key.
    let own = reqwest::Client::new()
        .get(format!("{}/resource/{dataset}.json", stack.edge_url()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    stack.stop().await;
}

#[tokio::test]
async fn views_describe_columns_and_metadata_for_clients() {
    let stack = TestStack::start().await;
    let (_, dataset) = numbered_dataset(&stack, 2).await;
    publish(&stack, &dataset).await;
    wait_for_version(&stack, &dataset, 1).await;
    let view = get(&stack, &format!("/api/views/{dataset}.json"))
        .await
        .json();
    assert_eq!(view["id"], dataset.as_str());
    assert_eq!(view["name"], "Test dataset");
    assert_eq!(view["assetType"], "dataset");
    assert_eq!(view["publicationStage"], "published");
    assert!(view["createdAt"].as_i64().unwrap() > 1_700_000_000);
    assert!(view["rowsUpdatedAt"].as_i64().is_some());
    let columns = view["columns"].as_array().unwrap();
    let summary: Vec<(Value, Value, Value, Value)> = columns
        .iter()
        .map(|c| {
            (
                c["name"].clone(),
                c["fieldName"].clone(),
                c["dataTypeName"].clone(),
                c["position"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!("N"), json!("n"), json!("number"), json!(1)),
            (json!("Town"), json!("town"), json!("text"), json!(2)),
            (json!("Sold"), json!("sold"), json!("checkbox"), json!(3)),
        ]
    );
    assert!(columns.iter().all(|c| c["id"].as_i64().unwrap() >= 1000));
    assert_eq!(
        view["metadata"]["rowIdentifier"],
        columns[0]["id"].as_i64().unwrap().to_string()
    );
    assert_eq!(view["owner"]["displayName"], "opm");
    assert_eq!(view["rights"], json!(["read"]));
    assert_eq!(view["grants"][0]["flags"], json!(["public"]));
    assert!(view["viewLastModified"].as_i64().unwrap() >= view["createdAt"].as_i64().unwrap());
    stack.stop().await;
}

#[tokio::test]
async fn data_json_lists_published_datasets_and_validates_against_dcat_us() {
    let stack = TestStack::start().await;
    let (_, dataset) = numbered_dataset(&stack, 2).await;
    publish(&stack, &dataset).await;
    let response = get(&stack, "/data.json").await;
    assert_eq!(response.status, 200);
    let catalog = response.json();
    let entries = catalog["dataset"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["accessLevel"], "public");
    assert_eq!(entry["publisher"]["name"], "Agency opm");
    assert_eq!(
        entry["identifier"],
        format!("{}/api/views/{dataset}", stack.edge_url())
    );
    assert_eq!(
        entry["distribution"][0]["downloadURL"],
        format!("{}/resource/{dataset}.csv", stack.edge_url())
    );

    let validator = dcat_validator();
    assert_valid_dcat(&validator, &catalog);
    // The validator does catch mistakes.
    let mut broken = catalog.clone();
    broken["dataset"][0]["accessLevel"] = json!("secret");
    assert!(!validator.is_valid(&broken));
    stack.stop().await;
}

#[tokio::test]
async fn health_endpoints_answer() {
    let stack = TestStack::start().await;
    let live = get(&stack, "/healthz").await;
    assert_eq!((live.status, live.json()), (200, json!({"status": "ok"})));
    let ready = get(&stack, "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(
        ready.json()["dependencies"],
        json!({
            "catalog": "serving",
            "governance": "serving",
            "search": "serving",
            "incentives": "serving"
        })
    );
    stack.stop().await;
}
