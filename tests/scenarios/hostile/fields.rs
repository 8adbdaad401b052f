//! Every text field and list has a limit, refused with its field and limit named, NUL characters
//! are 400s rather than 500s, and files with unusable headers or no rows cannot hurt a dataset.

use opendata_limits::{
    COLUMNS, KEYWORDS, SCHEMA_BYTES, TEXT_DESCRIPTION, TEXT_LINE, TEXT_NAME, TEXT_PARAGRAPH,
};
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Role, Schema};
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::{self as ingestion, UploadMode, UploadState};
use opendata_testkit::TestStack;
use tonic::Status;

use crate::support::*;

/// Asserts an INVALID_ARGUMENT naming `field` and, when given, `limit`.
fn assert_invalid(status: &Status, field: &str, limit: Option<&str>) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let error = ApiError::from_status(status);
    assert_eq!(
        error.details.get("field").map(String::as_str),
        Some(field),
        "{error:?}"
    );
    assert_eq!(
        error.details.get("limit").map(String::as_str),
        limit,
        "{error:?}"
    );
}

fn metadata(title: &str) -> catalog::DatasetMetadata {
    catalog::DatasetMetadata {
        title: title.to_owned(),
        ..Default::default()
    }
}

async fn create(
    stack: &TestStack,
    key: &str,
    metadata: catalog::DatasetMetadata,
    columns: Vec<Column>,
) -> Result<String, Status> {
    stack
        .clients(Some(key))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".to_owned(),
            metadata: Some(metadata),
            schema: Some(Schema {
                columns,
                row_identifier: String::new(),
            }),
            id: String::new(),
        })
        .await
        .map(|created| created.into_inner().id)
}

#[tokio::test]
async fn dataset_text_and_columns_past_their_limits_are_refused() {
    let stack = TestStack::start().await;
    let key = key_for(&stack, "opm", Role::Publisher).await;
    let town = || vec![column("Town", ColumnType::Text)];

    let mut long_description = metadata("Sales");
    long_description.description = "d".repeat(TEXT_DESCRIPTION.get() + 1);
    let status = create(&stack, &key, long_description, town())
        .await
        .unwrap_err();
    assert_invalid(&status, "metadata.description", Some(TEXT_DESCRIPTION.name));

    let status = create(
        &stack,
        &key,
        metadata(&"t".repeat(TEXT_LINE.get() + 1)),
        town(),
    )
    .await
    .unwrap_err();
    assert_invalid(&status, "metadata.title", Some(TEXT_LINE.name));

    let status = create(&stack, &key, metadata("Sales\0"), town())
        .await
        .unwrap_err();
    assert_invalid(&status, "metadata.title", None);

    let mut many_keywords = metadata("Sales");
    many_keywords.keywords = (0..=KEYWORDS.get()).map(|n| format!("k{n}")).collect();
    let status = create(&stack, &key, many_keywords, town())
        .await
        .unwrap_err();
    assert_invalid(&status, "metadata.keywords", Some(KEYWORDS.name));

    let too_many: Vec<Column> = (0..=COLUMNS.get())
        .map(|n| column(&format!("c{n}"), ColumnType::Text))
        .collect();
    let status = create(&stack, &key, metadata("Wide"), too_many)
        .await
        .unwrap_err();
    assert_invalid(&status, "schema.columns", Some(COLUMNS.name));

    let wordy: Vec<Column> = (0..COLUMNS.get())
        .map(|n| Column {
            description: "w".repeat(SCHEMA_BYTES.get() / COLUMNS.get()),
            ..column(&format!("c{n}"), ColumnType::Text)
        })
        .collect();
    let status = create(&stack, &key, metadata("Wordy"), wordy)
        .await
        .unwrap_err();
    assert_invalid(&status, "schema.columns", Some(SCHEMA_BYTES.name));

    let dataset = create(&stack, &key, metadata("Sales"), town())
        .await
        .unwrap();
    let status = stack
        .clients(Some(&key))
        .catalog
        .update_dataset(catalog::UpdateDatasetRequest {
            id: dataset.clone(),
            columns: vec![Column {
                field_name: "town".to_owned(),
                description: "x".repeat(TEXT_PARAGRAPH.get() + 1),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(
        &status,
        "schema.columns[0].description",
        Some(TEXT_PARAGRAPH.name),
    );

    let listed = stack
        .clients(Some(&key))
        .catalog
        .list_datasets(catalog::ListDatasetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .datasets;
    assert_eq!(listed.len(), 1, "nothing refused was stored");
}

#[tokio::test]
async fn governance_text_past_its_limits_is_refused_at_the_edge_and_over_grpc() {
    let stack = TestStack::start().await;
    let (_, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let justification = "j".repeat(TEXT_PARAGRAPH.get() + 1);
    let body = serde_json::json!({"justification": justification, "accrualPeriodicity": "R/P1M"});
    let response = send(
        &stack,
        &format!("/api/admin/datasets/{dataset}/nominate"),
        Some(&ado),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.json()["data"]["limit"], TEXT_PARAGRAPH.name);

    let cdo = stack.cdo_key().await;
    let mut review = stack.clients(Some(&cdo)).review;
    let status = review
        .withhold(governance::WithholdRequest {
            dataset_id: dataset.clone(),
            ground: governance::WithholdingGround::ViolatesLaw as i32,
            explanation: "e".repeat(TEXT_LINE.get() + 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "explanation", Some(TEXT_LINE.name));
    let status = review
        .retire(governance::RetireRequest {
            dataset_id: dataset.clone(),
            reason: "gone\0".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "reason", None);

    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let status = admin
        .create_agency(governance::CreateAgencyRequest {
            id: "dot".to_owned(),
            name: "n".repeat(TEXT_NAME.get() + 1),
        })
        .await
        .unwrap_err();
    assert_invalid(&status, "name", Some(TEXT_NAME.name));
}

/// Sends `file` to a new replace upload of `dataset`; the upload as it ended.
async fn upload(
    stack: &TestStack,
    key: &str,
    dataset: &str,
    file: &[u8],
    allow_empty: bool,
) -> (ingestion::Upload, Result<ingestion::Upload, Status>) {
    let mut client = stack.clients(Some(key)).ingestion;
    let created = client
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset.to_owned(),
            mode: UploadMode::Replace as i32,
            allow_empty,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let sent = send_file(stack, key, &created.id, file, 1 << 20).await;
    (created, sent)
}

#[tokio::test]
async fn files_with_unusable_headers_fail_at_once_naming_the_field() {
    let stack = TestStack::start().await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    let utf16: Vec<u8> = "Town\nAvon\n".bytes().flat_map(|b| [b, 0]).collect();
    let long_cell = format!("{}\nAvon\n", "T".repeat(TEXT_NAME.get() + 1));
    let commas = format!("{}\n", ",".repeat(COLUMNS.get() + 5));
    for (file, expected, limit) in [
        (utf16, "UTF-16", None),
        (long_cell.into_bytes(), TEXT_NAME.name, Some(TEXT_NAME.name)),
        (commas.into_bytes(), COLUMNS.name, Some(COLUMNS.name)),
    ] {
        let (created, sent) = upload(&stack, &key, &dataset, &file, false).await;
        let status = sent.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(expected), "{}", status.message());
        let error = ApiError::from_status(&status);
        assert_eq!(error.code, ErrorCode::MalformedFile, "{error:?}");
        assert_eq!(
            error.details.get("limit").map(String::as_str),
            limit,
            "{error:?}"
        );
        assert!(
            status.message().starts_with("line 1"),
            "{}",
            status.message()
        );
        let failed = stack
            .clients(Some(&key))
            .ingestion
            .get_upload(ingestion::GetUploadRequest {
                upload_id: created.id,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            failed.state(),
            UploadState::Failed,
            "closed at once, not left receiving"
        );
    }
}

#[tokio::test]
async fn a_header_only_file_empties_a_dataset_only_when_asked_to() {
    let stack = TestStack::start().await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    wait_for_version(&stack, &dataset, 1).await;

    let (created, sent) = upload(&stack, &key, &dataset, b"Town\n", false).await;
    assert_eq!(sent.unwrap().rows_loaded, 0);
    let status = commit(&stack, &key, &created.id).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        ApiError::from_status(&status).code,
        ErrorCode::EmptyReplacement
    );
    assert!(
        status.message().contains("allow_empty"),
        "{}",
        status.message()
    );
    let rows = get(&stack, &format!("/resource/{dataset}.json"))
        .await
        .json();
    assert_eq!(
        rows.as_array().map(Vec::len),
        Some(1),
        "the data is still there"
    );

    let (created, _) = upload(&stack, &key, &dataset, b"Town\n", true).await;
    let committed = commit(&stack, &key, &created.id).await.unwrap();
    assert_eq!(committed.version, 2);
    wait_for_version(&stack, &dataset, 2).await;
    let rows = get(&stack, &format!("/resource/{dataset}.json"))
        .await
        .json();
    assert_eq!(rows, serde_json::json!([]));
}

#[tokio::test]
async fn rows_are_keyed_by_field_name_and_soda_parameters_are_given_once() {
    let stack = TestStack::start().await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("1abc", ColumnType::Text)], "").await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"1abc\nx\n").await;
    wait_for_version(&stack, &dataset, 1).await;
    let response = get(&stack, &format!("/resource/{dataset}.json")).await;
    assert_eq!(response.json(), serde_json::json!([{"_1abc": "x"}]));
    assert_eq!(response.header("x-soda2-fields"), Some("[\"_1abc\"]"));

    let response = get(
        &stack,
        &format!("/resource/{dataset}.json?$limit=1&$where=_1abc='x'&$limit=2"),
    )
    .await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.json()["data"]["parameter"], "$limit");
}

#[tokio::test]
async fn a_replacement_whose_every_row_is_rejected_does_not_empty_a_dataset() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(
        &stack,
        "opm",
        vec![column("Amount", ColumnType::Number)],
        "",
    )
    .await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"Amount\n12\n").await;
    wait_for_version(&stack, &dataset, 1).await;

    let created = stack
        .clients(Some(&key))
        .ingestion
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset.clone(),
            mode: UploadMode::Replace as i32,
            max_rejected_fraction: 1.0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let sent = send_file(&stack, &key, &created.id, b"Amount\nabc\nxyz\n", 1 << 20)
        .await
        .unwrap();
    assert_eq!((sent.rows_loaded, sent.rows_rejected), (0, 2));
    let status = commit(&stack, &key, &created.id).await.unwrap_err();
    assert_eq!(
        ApiError::from_status(&status).code,
        ErrorCode::EmptyReplacement,
        "{status:?}"
    );
    let rows = get(&stack, &format!("/resource/{dataset}.json"))
        .await
        .json();
    assert_eq!(rows, serde_json::json!([{"amount": "12"}]));
}
