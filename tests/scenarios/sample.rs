//! The real Connecticut samples: every row of the 9,999-row real-estate file is accounted for, and
//! schema inference works from the whole file.

use std::path::PathBuf;

use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::{self as ingestion, UploadMode, UploadState};
use opendata_testkit::TestStack;

use crate::support::*;

fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

#[tokio::test]
async fn every_row_of_the_real_estate_sample_is_accounted_for() {
    let file = std::fs::read(real_estate_file()).unwrap();
    let expected: Vec<csv::StringRecord> = csv::Reader::from_reader(file.as_slice())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(expected.len(), 9999);

    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(&stack, "opm", real_estate_columns(), "").await;
    let upload = create_upload(&stack, &key, &dataset, UploadMode::Replace, 1.0)
        .await
        .unwrap();
    let loaded = send_file(&stack, &key, &upload.id, &file, 64 * 1024)
        .await
        .unwrap();
    assert_eq!(loaded.rows_received, 9999);
    assert_eq!(
        loaded.rows_loaded + loaded.rows_rejected,
        9999,
        "every row is loaded or rejected"
    );
    let rejections = stack
        .clients(Some(&key))
        .ingestion
        .list_rejections(ingestion::ListRejectionsRequest {
            upload_id: upload.id.clone(),
            page_size: 10_000,
            after_line: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .rejections;
    assert_eq!(
        rejections.len() as u64,
        loaded.rows_rejected,
        "every rejection is listed with its reason"
    );
    assert!(
        rejections
            .iter()
            .all(|r| !r.reason.is_empty() && r.line >= 2)
    );
    commit(&stack, &key, &upload.id).await.unwrap();
    wait_for_version(&stack, &dataset, 1).await;

    let rows = get(&stack, &format!("/resource/{dataset}.json?$limit=20000"))
        .await
        .json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len() as u64, loaded.rows_loaded);
    // Spot-check the first row against the file, value by value.
    let first = get(
        &stack,
        &format!("/resource/{dataset}.json?$order=:id&$limit=1"),
    )
    .await
    .json();
    assert_eq!(
        first[0],
        serde_json::json!({
            "serial_number": "220008",
            "list_year": "2022",
            "date_recorded": "2023-01-30T00:00:00.000",
            "town": "Andover",
            "address": "618 ROUTE 6",
            "assessed_value": "139020",
            "sale_amount": "232000",
            "sales_ratio": "0.5992",
            "property_type": "Residential",
            "residential_type": "Single Family",
            "location": {"type": "Point", "coordinates": [-72.343628962, 41.728431984]}
        })
    );
    // Filters on the sample agree with the file.
    let hartford_in_file = expected.iter().filter(|r| &r[3] == "Hartford").count();
    let hartford = get(
        &stack,
        &format!("/resource/{dataset}.json?town=Hartford&$limit=20000"),
    )
    .await
    .json();
    assert_eq!(hartford.as_array().unwrap().len(), hartford_in_file);
    stack.stop().await;
}

#[tokio::test]
async fn a_schema_is_inferred_from_the_whole_file_and_used_only_once_accepted() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(&stack, "decd", Vec::new(), "").await;
    let file = std::fs::read(data_file("decd/xnw3-nytd_top_records.csv")).unwrap();

    let upload = stack
        .clients(Some(&key))
        .ingestion
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset.clone(),
            mode: UploadMode::Replace as i32,
            infer_schema: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let staged = send_file(&stack, &key, &upload.id, &file, 1000)
        .await
        .unwrap();
    assert_eq!(staged.state(), UploadState::AwaitingSchema);
    let inferred = staged.inferred_schema.clone().unwrap();
    let types: Vec<(String, ColumnType)> = inferred
        .columns
        .iter()
        .map(|c| (c.field_name.clone(), c.r#type()))
        .collect();
    let type_of = |name: &str| {
        types
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, t)| *t)
            .unwrap()
    };
    assert_eq!(type_of("fiscal_year"), ColumnType::Number);
    assert_eq!(type_of("company"), ColumnType::Text);
    assert_eq!(
        type_of("zip_code"),
        ColumnType::Text,
        "leading zeros keep ZIP codes as text"
    );
    assert_eq!(type_of("contract_execution_date"), ColumnType::CalendarDate);
    assert_eq!(type_of("loan_amount"), ColumnType::Number);
    assert_eq!(
        type_of("job_penalty_if_applicable"),
        ColumnType::Text,
        "`$16,000 paid` is not a number"
    );

    // Not accepted yet: a commit is refused and nothing is visible.
    let early = commit(&stack, &key, &upload.id).await.unwrap_err();
    assert_eq!(early.code(), tonic::Code::FailedPrecondition);
    assert!(
        early.message().contains("awaiting_schema"),
        "{}",
        early.message()
    );

    let mut accepted = inferred.clone();
    accepted
        .columns
        .iter_mut()
        .find(|c| c.field_name == "company")
        .unwrap()
        .description = "Business name".into();
    let loaded = stack
        .clients(Some(&key))
        .ingestion
        .accept_schema(ingestion::AcceptSchemaRequest {
            upload_id: upload.id.clone(),
            schema: Some(accepted),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(loaded.state(), UploadState::Loaded);
    assert_eq!(loaded.rows_rejected, 0);
    assert_eq!(loaded.rows_loaded, loaded.rows_received);
    commit(&stack, &key, &upload.id).await.unwrap();
    wait_for_version(&stack, &dataset, 1).await;
    let view = get(&stack, &format!("/api/views/{dataset}.json"))
        .await
        .json();
    let company = view["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fieldName"] == "company")
        .unwrap();
    assert_eq!(company["description"], "Business name");
    assert_eq!(company["dataTypeName"], "text");
    let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion.upload_chunks")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(chunks, 0, "the staged file is deleted once loaded");
    stack.stop().await;
}
