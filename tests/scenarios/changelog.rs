//! The changelog in `/api/views/{id}.json`: a dataset's versions and its public governance
//! decisions in one call, newest first.

use opendata_proto::common::v1::Role;
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestStack, wait_until};
use serde_json::Value;

use crate::support::*;
use crate::versions::{amounts_by_town, amounts_file};

/// The changelog's entries as (type, what): the version number or the decision.
fn entries(view: &Value) -> Vec<(String, String)> {
    view["changelog"]["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{view}"))
        .iter()
        .map(|entry| {
            let what = match entry["type"].as_str().unwrap() {
                "version" => entry["version"].to_string(),
                _ => entry["decision"].as_str().unwrap().to_owned(),
            };
            (entry["type"].as_str().unwrap().to_owned(), what)
        })
        .collect()
}

#[tokio::test]
async fn the_view_carries_versions_and_decisions_newest_first() {
    let stack = TestStack::start().await;
    let (key, dataset) = amounts_by_town(&stack).await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &amounts_file("Avon,1\n"),
    )
    .await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Upsert,
        &amounts_file("Avon,2\n"),
    )
    .await;
    wait_for_version(&stack, &dataset, 2).await;
    let view = get(&stack, &format!("/api/views/{dataset}.json"))
        .await
        .json();
    let pair = |kind: &str, what: &str| (kind.to_owned(), what.to_owned());
    assert_eq!(
        entries(&view),
        [
            pair("version", "2"),
            pair("version", "1"),
            pair("decision", "published")
        ],
        "{view}"
    );
    let newest = &view["changelog"]["entries"][0];
    assert_eq!(newest["mode"], "upsert");
    assert_eq!(newest["rowCount"], 1);
    assert!(
        newest["committedBy"].as_str().unwrap().contains("opm"),
        "{newest}"
    );
    assert!(view["changelog"]["decisionsUnavailable"].is_null());
    let published = &view["changelog"]["entries"][2];
    assert!(
        published.get("reason").is_none(),
        "the CDO's note is not public: {published}"
    );

    // Retired (public for 30 days more): the decision comes first, with its reason.
    let ado = key_for(&stack, "opm", Role::Ado).await;
    stack
        .clients(Some(&ado))
        .review
        .retire(governance::RetireRequest {
            dataset_id: dataset.clone(),
            reason: "replaced by the monthly series".into(),
            successor_dataset_id: String::new(),
        })
        .await
        .expect("retire");
    let view = wait_until(EVENTUALLY, "the retirement in the changelog", || async {
        let view = get(&stack, &format!("/api/views/{dataset}.json")).await;
        (view.status == 200 && view.body.contains("\"retired\"")).then(|| view.json())
    })
    .await;
    let retired = &view["changelog"]["entries"][0];
    assert_eq!(retired["decision"], "retired", "{view}");
    assert_eq!(retired["reason"], "replaced by the monthly series");
    stack.stop().await;
}
