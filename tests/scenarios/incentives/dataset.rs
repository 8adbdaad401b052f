//! The award table as an ordinary portal dataset: DECD's ADO hands the service its automation
//! key, the service creates the dataset and pushes the awards through ingestion, the CDO
//! publishes it, and every later change reaches `/resource` (SoQL included).

use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::Role;
use opendata_proto::incentives::v1 as pb;
use opendata_testkit::{TestStack, wait_until};

use super::{Client, award, decd, record, violated_fields};
use crate::support::{EVENTUALLY, api_error, get, key_for};

const DATASET: &str = "decd-awrd";

/// The publishing status once `done` holds for it.
async fn publishing_status_when(
    client: &Client,
    what: &str,
    done: impl Fn(&pb::PublishingStatus) -> bool,
) -> pb::PublishingStatus {
    wait_until(EVENTUALLY, what, || {
        let mut client = client.clone();
        let done = &done;
        async move {
            let status = client
                .get_publishing_status(pb::GetPublishingStatusRequest {})
                .await
                .ok()?
                .into_inner();
            done(&status).then_some(status)
        }
    })
    .await
}

async fn rows(stack: &TestStack, query: &str) -> serde_json::Value {
    get(stack, &format!("/resource/{DATASET}.json?{query}"))
        .await
        .json()
}

#[tokio::test]
async fn the_award_table_is_a_portal_dataset_kept_in_sync() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let hartford = record(
        &mut decd.client,
        award("Harbor Biotech", "Hartford", 2018, 0, 500_000, "maa"),
    )
    .await;
    record(
        &mut decd.client,
        award("Quinnipiac Foods", "New Haven", 2017, 50_000, 0, "steap"),
    )
    .await;

    // Keys that cannot write DECD's datasets are refused, and so are callers outside DECD.
    let opm_key = key_for(&stack, "opm", Role::Publisher).await;
    let status = decd
        .client
        .set_publisher_key(pb::SetPublisherKeyRequest { api_key: opm_key })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["api_key"]);
    let status = decd
        .client
        .set_publisher_key(pb::SetPublisherKeyRequest {
            api_key: "odk_not_a_key".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["api_key"]);
    let cdo = stack.cdo_key().await;
    let status = decd
        .client
        .set_publisher_key(pb::SetPublisherKeyRequest {
            api_key: cdo.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["api_key"],
        "a key reaching every agency is not stored"
    );
    let status = stack
        .clients(None)
        .incentives
        .get_publishing_status(pb::GetPublishingStatusRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let automation = key_for(&stack, "decd", Role::Publisher).await;
    let status = stack
        .clients(Some(&cdo))
        .incentives
        .set_publisher_key(pb::SetPublisherKeyRequest {
            api_key: automation.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    let set = decd
        .client
        .set_publisher_key(pb::SetPublisherKeyRequest {
            api_key: automation,
        })
        .await
        .expect("DECD's ADO sets the automation key")
        .into_inner();
    assert!(set.key_set);
    assert_eq!(set.dataset_id, DATASET);

    // The service creates the dataset and pushes; it is DECD's, private until published.
    let mut status_client = decd.client.clone();
    publishing_status_when(&status_client, "the first push", |s| s.rows_pushed == 2).await;
    assert_eq!(
        get(&stack, &format!("/resource/{DATASET}.json"))
            .await
            .status,
        404
    );
    stack.publish(DATASET).await;

    let found = rows(&stack, "$where=municipality='Hartford'").await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["company"], "Harbor Biotech");
    assert_eq!(found[0]["loan_amount"], "500000");
    assert_eq!(found[0]["award_id"], hartford.id.as_str());
    let totals = rows(&stack, "$select=sum(total_assistance) as total").await;
    assert_eq!(totals[0]["total"], "550000");

    // A correction reaches the dataset; so does a withdrawal.
    decd.client
        .correct_award(pb::CorrectAwardRequest {
            id: hartford.id.clone(),
            fields: Some(award("Harbor Biotech", "Hartford", 2018, 0, 750_000, "maa")),
            reason: "amended contract".into(),
            expected_revision: 1,
        })
        .await
        .expect("correct");
    let id = hartford.id.clone();
    wait_until(EVENTUALLY, "the corrected row", || {
        let stack = &stack;
        let id = id.clone();
        async move {
            let found = rows(stack, &format!("award_id={id}")).await;
            (found[0]["loan_amount"] == "750000" && found[0]["revision"] == "2").then_some(())
        }
    })
    .await;
    decd.client
        .withdraw_award(pb::WithdrawAwardRequest {
            id: hartford.id.clone(),
            reason: "contract cancelled".into(),
        })
        .await
        .expect("withdraw");
    wait_until(EVENTUALLY, "the withdrawn row to leave", || async {
        let found = rows(&stack, "").await;
        (found.as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    let status = status_client
        .get_publishing_status(pb::GetPublishingStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((status.rows_pushed, status.last_error.as_str()), (1, ""));
    stack.stop().await;
}

#[tokio::test]
async fn another_agency_cannot_take_the_award_datasets_id() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    record(
        &mut decd.client,
        award("Harbor Biotech", "Hartford", 2018, 0, 500_000, "maa"),
    )
    .await;
    let opm = key_for(&stack, "opm", Role::Publisher).await;
    let refused = stack
        .clients(Some(&opm))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            id: DATASET.to_owned(),
            agency_id: "opm".to_owned(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Squatter".to_owned(),
                ..Default::default()
            }),
            schema: None,
        })
        .await
        .expect_err("the id is among DECD's");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert_eq!(api_error(&refused).details["field"], "id");

    let automation = key_for(&stack, "decd", Role::Publisher).await;
    decd.client
        .set_publisher_key(pb::SetPublisherKeyRequest {
            api_key: automation,
        })
        .await
        .expect("set the key");
    let status =
        publishing_status_when(&decd.client, "the first push", |s| s.rows_pushed == 1).await;
    assert_eq!(status.last_error, "");
    stack.stop().await;
}
