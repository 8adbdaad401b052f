//! The changelog in `/api/views/{id}.json`: a dataset's versions and its public governance
//! decisions in one call, newest first.

use opendata_proto::common::v1::Role;
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestStack, wait_until};
use serde_json::Value;

use crate::support::*;

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
    let pushes = [
        (UploadMode::Replace, "Avon,1\n"),
        (UploadMode::Upsert, "Avon,2\n"),
    ];
    push_amounts(&stack, &key, &dataset, &pushes).await;
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
    assert_eq!(
        newest["committedBy"]["displayName"], "opm role_publisher",
        "{newest}"
    );
    assert!(view["changelog"]["decisionsUnavailable"].is_null());
    assert!(view["changelog"]["versionsUnavailable"].is_null());
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

#[tokio::test]
async fn decisions_are_told_only_about_datasets_the_caller_may_see() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let hidden = create_dataset(
        &stack,
        &publisher,
        "opm",
        vec![column("Town", opendata_proto::common::v1::ColumnType::Text)],
        "",
    )
    .await;
    let ask = |key: Option<&str>| {
        let mut review = stack.clients(key).review;
        let request = governance::ListDecisionsRequest {
            dataset_id: hidden.clone(),
        };
        async move { review.list_decisions(request).await }
    };
    // Its agency's key sees it once governance has the record (nothing decided yet).
    let own = wait_until(EVENTUALLY, "the record for its agency", || async {
        ask(Some(&publisher)).await.ok()
    })
    .await;
    assert!(own.into_inner().decisions.is_empty());
    // Not published: the public learns nothing, not even that it exists.
    let refused = ask(None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound, "{refused:?}");
    let wrong = ask(Some("odk_nonsense")).await.unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated, "{wrong:?}");
    // Through the edge, the view is 404 to the public and carries the changelog for the key.
    let view = get(&stack, &format!("/api/views/{hidden}.json")).await;
    assert_eq!(view.status, 404);
    let keyed = get_with(
        &stack,
        &format!("/api/views/{hidden}.json"),
        &[("authorization", &format!("Bearer {publisher}"))],
    )
    .await
    .json();
    assert_eq!(
        keyed["changelog"]["entries"],
        serde_json::json!([]),
        "{keyed}"
    );
    assert!(
        keyed["changelog"]["decisionsUnavailable"].is_null(),
        "{keyed}"
    );
    stack.stop().await;
}
