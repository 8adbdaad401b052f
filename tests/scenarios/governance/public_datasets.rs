//! The public governance datasets: freshness of every published dataset and the retired assets,
//! kept current by governance as ordinary portal datasets (SoQL, CSV, `/data.json`).

use opendata_proto::common::v1::Role;
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestOptions, TestStack, wait_until};

use super::{dataset, review};
use crate::support::{EVENTUALLY, get, key_for, push};

const FRESHNESS: &str = "gov1-frsh";
const RETIRED: &str = "gov1-rtrd";

#[tokio::test]
async fn freshness_and_retired_assets_are_public_datasets() {
    let stack = TestStack::start_with(TestOptions {
        public_governance_datasets: true,
        ..TestOptions::default()
    })
    .await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let current = dataset(&stack, &publisher, "opm", "Monthly Revenue").await;
    push(
        &stack,
        &publisher,
        &current,
        UploadMode::Replace,
        b"Town\nAvon\n",
    )
    .await;
    let old = dataset(&stack, &publisher, "opm", "Old Revenue").await;
    stack.publish(&current).await;
    stack.publish(&old).await;
    review(&stack, &ado)
        .retire(governance::RetireRequest {
            dataset_id: old.clone(),
            reason: "replaced by Monthly Revenue".into(),
            successor_dataset_id: current.clone(),
        })
        .await
        .expect("retire");

    let rows = wait_until(EVENTUALLY, "the freshness dataset", || async {
        let response = get(
            &stack,
            &format!("/resource/{FRESHNESS}.json?dataset_id={current}"),
        )
        .await;
        (response.status == 200 && response.json()[0]["status"] == "current")
            .then(|| response.json())
    })
    .await;
    let row = &rows[0];
    assert_eq!(row["title"], "Monthly Revenue");
    assert_eq!(row["agency"], "opm");
    assert_eq!(row["update_frequency"], "R/P1M");
    assert!(
        row["last_updated"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(row["due"].as_str().is_some());
    let own = get(
        &stack,
        &format!("/resource/{FRESHNESS}.json?dataset_id={FRESHNESS}"),
    )
    .await;
    assert_eq!(own.json(), serde_json::json!([]), "it does not list itself");

    let retired = wait_until(EVENTUALLY, "the retired-assets dataset", || async {
        let response = get(
            &stack,
            &format!("/resource/{RETIRED}.json?dataset_id={old}"),
        )
        .await;
        (response.status == 200 && response.json().as_array().is_some_and(|a| a.len() == 1))
            .then(|| response.json())
    })
    .await;
    assert_eq!(retired[0]["reason"], "replaced by Monthly Revenue");
    assert_eq!(retired[0]["successor"], current.as_str());
    assert_eq!(retired[0]["still_public"], true);
    assert_eq!(retired[0]["title"], "ARCHIVE: Old Revenue");

    // Ordinary datasets: SoQL, CSV, the catalog.
    let stale = get(
        &stack,
        &format!("/resource/{FRESHNESS}.json?$where=status='stale'"),
    )
    .await;
    assert_eq!(stale.status, 200, "{}", stale.body);
    assert_eq!(stale.json(), serde_json::json!([]));
    let csv = get(&stack, &format!("/resource/{RETIRED}.csv")).await;
    assert!(csv.body.starts_with("\"dataset_id\""), "{}", csv.body);
    let catalog = get(&stack, "/data.json").await.json();
    let identifiers: Vec<&str> = catalog["dataset"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["identifier"].as_str())
        .collect();
    for id in [FRESHNESS, RETIRED] {
        assert!(
            identifiers.iter().any(|i| i.ends_with(id)),
            "{id} in data.json"
        );
    }
    stack.stop().await;
}
