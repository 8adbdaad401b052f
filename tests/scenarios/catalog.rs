//! The catalog's own API: metadata rules, updates with a field mask, listings and their visibility,
//! versions, and who may publish.

use opendata_platform::error::ErrorCode;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Role};
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::TestStack;

use crate::support::*;

fn metadata(title: &str) -> Option<catalog::DatasetMetadata> {
    Some(catalog::DatasetMetadata {
        title: title.to_owned(),
        description: "About it".to_owned(),
        ..Default::default()
    })
}

#[tokio::test]
async fn creation_checks_agency_metadata_and_ids() {
    let stack = TestStack::start().await;
    let key = key_for(&stack, "opm", Role::Publisher).await;
    let mut admin = stack.clients(Some(&stack.admin_key)).catalog;
    let unknown_agency = admin
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "nowhere".into(),
            metadata: metadata("Lost"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_agency.code(), tonic::Code::NotFound);
    assert_eq!(api_error(&unknown_agency).code, ErrorCode::AgencyNotFound);

    let mut publisher = stack.clients(Some(&key)).catalog;
    let bad_frequency = publisher
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Weekly".into(),
                accrual_periodicity: "weekly".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_frequency.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        api_error(&bad_frequency)
            .details
            .get("field")
            .map(String::as_str),
        Some("metadata.accrual_periodicity")
    );

    let bad_schema = publisher
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: metadata("Typeless"),
            schema: Some(opendata_proto::common::v1::Schema {
                columns: vec![Column {
                    display_name: "Town".into(),
                    ..Column::default()
                }],
                row_identifier: String::new(),
            }),
            id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&bad_schema)
            .details
            .get("field")
            .map(String::as_str),
        Some("schema.columns[0].type")
    );

    // An agency chooses ids beginning with its own id; others are the CDO's to choose.
    for (chosen, agency) in [("abcd-1234", "opm"), ("decd-1234", "opm")] {
        let refused = publisher
            .create_dataset(catalog::CreateDatasetRequest {
                agency_id: agency.into(),
                metadata: metadata("Chosen id"),
                schema: None,
                id: chosen.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{chosen}");
        assert_eq!(api_error(&refused).details["field"], "id");
    }
    let created = publisher
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: String::new(),
            metadata: metadata("Chosen id"),
            schema: None,
            id: "opm1-1234".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (created.id.as_str(), created.agency_id.as_str()),
        ("opm1-1234", "opm"),
        "agency defaults to the caller's"
    );
    let taken = publisher
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: metadata("Again"),
            schema: None,
            id: "opm1-1234".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), tonic::Code::AlreadyExists);
    stack.stop().await;
}

#[tokio::test]
async fn updates_apply_the_mask_and_keep_the_schema_of_loaded_data() {
    let stack = TestStack::start().await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    let mut publisher = stack.clients(Some(&key)).catalog;
    let updated = publisher
        .update_dataset(catalog::UpdateDatasetRequest {
            id: dataset.clone(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Renamed".into(),
                description: "ignored: not in the mask".into(),
                keywords: vec!["Towns".into(), "towns".into()],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into(), "keywords".into()],
            }),
            columns: vec![Column {
                field_name: "town".into(),
                display_name: "Municipality".into(),
                description: "Where the sale happened".into(),
                ..Column::default()
            }],
            replace_schema: false,
            row_identifier: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let metadata = updated.metadata.unwrap();
    assert_eq!(metadata.title, "Renamed");
    assert_eq!(metadata.description, "Rows for a test");
    assert_eq!(metadata.keywords, vec!["towns"]);
    let town = &updated.schema.unwrap().columns[0];
    assert_eq!(
        (town.display_name.as_str(), town.description.as_str()),
        ("Municipality", "Where the sale happened")
    );

    let unknown_column = publisher
        .update_dataset(catalog::UpdateDatasetRequest {
            id: dataset.clone(),
            columns: vec![Column {
                field_name: "price".into(),
                ..Column::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&unknown_column)
            .details
            .get("field")
            .map(String::as_str),
        Some("columns[0].field_name")
    );

    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    wait_for_version(&stack, &dataset, 1).await;
    let refused = publisher
        .update_dataset(catalog::UpdateDatasetRequest {
            id: dataset.clone(),
            columns: vec![column("Other", ColumnType::Number)],
            replace_schema: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(api_error(&refused).code, ErrorCode::SchemaChangeRefused);
    let view = get(&stack, &format!("/api/views/{dataset}.json"))
        .await
        .json();
    assert_eq!(
        view["columns"][0]["name"], "Municipality",
        "descriptions survive a new version"
    );
    stack.stop().await;
}

#[tokio::test]
async fn listings_show_what_the_caller_may_see_page_by_page() {
    let stack = TestStack::start().await;
    let opm = key_for(&stack, "opm", Role::Publisher).await;
    let decd = key_for(&stack, "decd", Role::Publisher).await;
    let public = create_dataset(&stack, &opm, "opm", Vec::new(), "").await;
    publish(&stack, &public).await;
    let opm_private = create_dataset(&stack, &opm, "opm", Vec::new(), "").await;
    let decd_private = create_dataset(&stack, &decd, "decd", Vec::new(), "").await;

    let ids = |datasets: Vec<catalog::Dataset>| -> Vec<String> {
        datasets.into_iter().map(|d| d.id).collect()
    };
    let list = |key: Option<String>| {
        let stack = &stack;
        async move {
            stack
                .clients(key.as_deref())
                .catalog
                .list_datasets(catalog::ListDatasetsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .datasets
        }
    };
    assert_eq!(ids(list(None).await), vec![public.clone()]);
    let mut own = ids(list(Some(opm.clone())).await);
    own.sort();
    let mut expected = vec![public.clone(), opm_private.clone()];
    expected.sort();
    assert_eq!(own, expected);
    assert_eq!(list(Some(stack.admin_key.clone())).await.len(), 3);
    assert!(!ids(list(Some(decd.clone())).await).contains(&opm_private));
    assert!(ids(list(Some(decd)).await).contains(&decd_private));

    let mut admin = stack.clients(Some(&stack.admin_key)).catalog;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_datasets(catalog::ListDatasetsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(ids(page.datasets));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 3, "pages cover every dataset once: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);

    // Publishing is the CDO's decision, not a publisher's.
    let denied = stack
        .clients(Some(&opm))
        .review
        .publish(opendata_proto::governance::v1::TransitionRequest {
            dataset_id: opm_private,
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    stack.stop().await;
}

#[tokio::test]
async fn versions_are_listed_newest_first() {
    let stack = TestStack::start().await;
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
    let versions = stack
        .clients(None)
        .catalog
        .list_versions(catalog::ListVersionsRequest {
            id: dataset.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .versions;
    let summary: Vec<(i64, i64, &str)> = versions
        .iter()
        .map(|v| (v.version, v.row_count, v.mode.as_str()))
        .collect();
    assert_eq!(summary, vec![(2, 2, "append"), (1, 1, "replace")]);

    stack.stop().await;
}

#[tokio::test]
async fn a_new_agency_cannot_take_ids_other_agencies_datasets_have() {
    let stack = TestStack::start().await;
    key_for(&stack, "opm", Role::Publisher).await;
    let cdo = stack.cdo_key().await;
    stack
        .clients(Some(&cdo))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: metadata("Kept from a migration"),
            schema: None,
            id: "zqx7-1234".into(),
        })
        .await
        .expect("the CDO chooses an id in no agency's namespace");

    // Governance learns of the dataset from the catalog's event.
    opendata_testkit::wait_until(EVENTUALLY, "the dataset in the inventory", || async {
        sqlx::query_scalar::<_, String>(
            "SELECT dataset_id FROM governance.inventory WHERE dataset_id = 'zqx7-1234'",
        )
        .fetch_optional(&stack.pool)
        .await
        .unwrap()
    })
    .await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let refused = admin
        .create_agency(governance::CreateAgencyRequest {
            id: "zqx".into(),
            name: "Squatters".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("zqx7-1234"),
        "{}",
        refused.message()
    );
    admin
        .create_agency(governance::CreateAgencyRequest {
            id: "zqy".into(),
            name: "Neighbours".into(),
        })
        .await
        .expect("an agency id no dataset begins with");
}
