//! Visibility follows governance on every endpoint: what is not published (inventoried,
//! nominated, approved, withheld, retired and made private) is a 404 to the public everywhere,
//! while its agency, the CDO and the panel still see it; `/data.json` discloses withheld datasets
//! as non-public with their rights and validates, and governance's public inventory summary names
//! the same ones and no other.

use chrono::Duration;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::Role;
use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::ReviewState;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_proto::search::v1::SearchRequest;
use opendata_testkit::{TestStack, wait_until};
use serde_json::Value;

use super::{dataset, nomination, review, step, withholding};
use crate::support::{EVENTUALLY, assert_valid_dcat, dcat_validator, get, key_for, push};

/// Asserts the public cannot reach `id` through any endpoint.
async fn hidden_from_the_public(stack: &TestStack, id: &str) {
    for path in [
        format!("/resource/{id}.json"),
        format!("/resource/{id}.csv"),
        format!("/resource/{id}.geojson"),
        format!("/resource/{id}"),
        format!("/api/views/{id}.json"),
    ] {
        let response = get(stack, &path).await;
        assert_eq!(response.status, 404, "{path}: {}", response.body);
    }
    let mut anonymous = stack.clients(None);
    let status = anonymous
        .catalog
        .get_dataset(catalog::GetDatasetRequest { id: id.to_owned() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let status = anonymous
        .catalog
        .list_versions(catalog::ListVersionsRequest {
            id: id.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let listed = anonymous
        .catalog
        .list_datasets(catalog::ListDatasetsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .datasets;
    assert!(listed.iter().all(|d| d.id != id), "listed: {id}");
    // Search follows the catalog's events, so it may take a moment to forget.
    wait_until(EVENTUALLY, "search to forget the dataset", || {
        let mut search = anonymous.search.clone();
        async move {
            let hits = search
                .search(SearchRequest {
                    ids: vec![id.to_owned()],
                    ..Default::default()
                })
                .await
                .expect("search")
                .into_inner();
            let discovery = get(stack, &format!("/api/catalog/v1?ids={id}"))
                .await
                .json();
            (hits.total == 0 && discovery["resultSetSize"] == 0).then_some(())
        }
    })
    .await;
}

/// Asserts the public sees `id` everywhere.
async fn public(stack: &TestStack, id: &str) {
    assert_eq!(
        get(stack, &format!("/resource/{id}.json")).await.status,
        200
    );
    assert_eq!(
        get(stack, &format!("/api/views/{id}.json")).await.status,
        200
    );
    wait_until(EVENTUALLY, "the dataset to be searchable", || async {
        let body = get(stack, &format!("/api/catalog/v1?ids={id}"))
            .await
            .json();
        (body["resultSetSize"] == 1).then_some(())
    })
    .await;
}

async fn seen_by(stack: &TestStack, key: &str, id: &str) -> bool {
    stack
        .clients(Some(key))
        .catalog
        .get_dataset(catalog::GetDatasetRequest { id: id.to_owned() })
        .await
        .is_ok()
}

#[tokio::test]
async fn nothing_unpublished_reaches_the_public() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let other_agency = key_for(&stack, "decd", Role::Publisher).await;
    let panel = key_for(&stack, "opm", Role::Panel).await;
    let cdo = stack.cdo_key().await;
    let mut cdo_review = review(&stack, &cdo);
    let id = dataset(&stack, &publisher, "opm", "Tax Appeals").await;
    push(
        &stack,
        &publisher,
        &id,
        UploadMode::Replace,
        b"Town\nAvon\n",
    )
    .await;

    hidden_from_the_public(&stack, &id).await;
    cdo_review
        .nominate(nomination(&id))
        .await
        .expect("nominate");
    hidden_from_the_public(&stack, &id).await;
    cdo_review.start_review(step(&id, "")).await.expect("start");
    cdo_review.approve(step(&id, "")).await.expect("approve");
    hidden_from_the_public(&stack, &id).await;

    cdo_review.publish(step(&id, "")).await.expect("publish");
    stack.wait_public(&id, true).await;
    public(&stack, &id).await;

    // Withheld after publication (found to hold protected data): gone from every endpoint.
    review(&stack, &ado)
        .withhold(withholding(&id))
        .await
        .expect("its ADO withholds it");
    stack.wait_public(&id, false).await;
    hidden_from_the_public(&stack, &id).await;
    for (who, key, sees) in [
        ("its publisher", &publisher, true),
        ("its ADO", &ado, true),
        ("the CDO", &cdo, true),
        ("the panel", &panel, true),
        ("another agency", &other_agency, false),
    ] {
        assert_eq!(seen_by(&stack, key, &id).await, sees, "{who}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn data_json_discloses_withheld_datasets_and_validates() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let cdo = stack.cdo_key().await;
    let open = dataset(&stack, &publisher, "opm", "Grand List").await;
    let held = dataset(&stack, &publisher, "opm", "Taxpayer Appeals").await;
    push(
        &stack,
        &publisher,
        &held,
        UploadMode::Replace,
        b"Town\nAvon\n",
    )
    .await;
    let private = dataset(&stack, &publisher, "opm", "Draft Figures").await;
    stack.publish(&open).await;
    review(&stack, &cdo)
        .withhold(withholding(&held))
        .await
        .expect("withhold from the inventory");
    let catalog = wait_until(EVENTUALLY, "data.json to list both", || async {
        let catalog = get(&stack, "/data.json").await.json();
        (catalog["dataset"].as_array().map(Vec::len) == Some(2)).then_some(catalog)
    })
    .await;
    let entries = catalog["dataset"].as_array().unwrap();
    let entry = |id: &str| -> &Value {
        entries
            .iter()
            .find(|e| e["identifier"].as_str().is_some_and(|i| i.ends_with(id)))
            .unwrap_or_else(|| panic!("{id} not in data.json"))
    };
    assert_eq!(entry(&open)["accessLevel"], "public");
    let withheld = entry(&held);
    assert_eq!(withheld["accessLevel"], "non-public");
    assert_eq!(
        withheld["rights"],
        "Contains taxpayer information protected by CGS 12-15"
    );
    assert!(withheld.get("distribution").is_none(), "no way to the data");
    assert!(withheld.get("landingPage").is_none());
    assert!(
        entries
            .iter()
            .all(|e| !e["identifier"].as_str().unwrap_or("").ends_with(&private)),
        "an undecided private dataset is not disclosed"
    );
    assert_valid_dcat(&dcat_validator(), &catalog);

    // Governance's public summary names exactly the datasets data.json discloses as withheld,
    // with their ground; the undecided and the published ones stay unnamed.
    let named: Vec<String> = stack
        .clients(None)
        .review
        .summarize_inventory(governance::SummarizeInventoryRequest::default())
        .await
        .expect("summary")
        .into_inner()
        .withheld
        .into_iter()
        .map(|dataset| {
            assert_eq!(dataset.ground(), governance::WithholdingGround::ViolatesLaw);
            dataset.dataset_id
        })
        .collect();
    let disclosed_as_withheld: Vec<&str> = entries
        .iter()
        .filter(|e| e["accessLevel"] != "public")
        .filter_map(|e| e["identifier"].as_str())
        .collect();
    assert_eq!(named, vec![held.clone()]);
    assert_eq!(disclosed_as_withheld.len(), 1, "{disclosed_as_withheld:?}");
    assert!(disclosed_as_withheld[0].ends_with(&held));

    // The catalog discloses a withheld dataset's metadata to anyone, nothing more.
    let listed = stack
        .clients(None)
        .catalog
        .list_datasets(catalog::ListDatasetsRequest {
            include_withheld: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .datasets;
    let disclosed = listed
        .iter()
        .find(|d| d.id == held)
        .expect("withheld listed");
    assert!(disclosed.withheld);
    assert_eq!(
        disclosed.metadata.as_ref().unwrap().title,
        "Taxpayer Appeals"
    );
    assert!(
        disclosed
            .schema
            .as_ref()
            .is_none_or(|s| s.columns.is_empty()),
        "no columns"
    );
    assert_eq!((disclosed.row_count, disclosed.current_version), (0, 0));
    assert!(disclosed.owner_id.is_empty() && disclosed.data_updated_at.is_none());
    let own = stack
        .clients(Some(&publisher))
        .catalog
        .list_datasets(catalog::ListDatasetsRequest {
            include_withheld: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .datasets;
    let full = own
        .iter()
        .find(|d| d.id == held)
        .expect("its agency sees it");
    assert_eq!(full.row_count, 1, "its agency sees all of it");
    stack.stop().await;
}

#[tokio::test]
async fn a_retired_dataset_is_archived_then_made_private_after_30_days() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let old = dataset(&stack, &publisher, "opm", "Sales 2001-2010").await;
    let new = dataset(&stack, &publisher, "opm", "Sales 2001-2025").await;
    stack.publish(&old).await;
    stack.publish(&new).await;
    let retired = review(&stack, &ado)
        .retire(governance::RetireRequest {
            dataset_id: old.clone(),
            reason: "superseded by the complete series".into(),
            successor_dataset_id: new.clone(),
        })
        .await
        .expect("retire")
        .into_inner();
    assert_eq!(retired.state(), ReviewState::Retired);
    assert!(retired.public, "still public for 30 days");
    assert_eq!(retired.successor_dataset_id, new);

    let view = wait_until(EVENTUALLY, "the ARCHIVE title", || async {
        let view = get(&stack, &format!("/api/views/{old}.json")).await.json();
        (view["name"] == "ARCHIVE: Sales 2001-2010").then_some(view)
    })
    .await;
    assert_eq!(view["id"], old.as_str());

    stack.clock.advance(Duration::days(29));
    // A whole round of the jobs on day 29: governance (which the job changes at once) still has
    // it public, so the public still sees it.
    stack.after_a_full_round("governance", "jobs").await;
    let day_29 = review(&stack, &ado)
        .get_inventory_record(governance::GetInventoryRecordRequest {
            dataset_id: old.clone(),
        })
        .await
        .expect("record")
        .into_inner();
    assert!(day_29.public, "day 29");
    assert_eq!(
        get(&stack, &format!("/api/views/{old}.json")).await.status,
        200,
        "day 29"
    );
    stack
        .clock
        .advance(Duration::days(1) + Duration::minutes(1));
    stack.wait_public(&old, false).await;
    hidden_from_the_public(&stack, &old).await;
    let record = review(&stack, &ado)
        .get_inventory_record(governance::GetInventoryRecordRequest {
            dataset_id: old.clone(),
        })
        .await
        .expect("record")
        .into_inner();
    assert!(!record.public);
    let last = record.history.last().expect("history");
    assert_eq!(
        (last.from_state(), last.to_state()),
        (ReviewState::Retired, ReviewState::Retired)
    );
    assert!(last.reason.contains("30 days"), "{}", last.reason);
    assert_eq!(last.actor_id, "system");
    stack.stop().await;
}
