//! Bad input: rejected rows are reported with line, column, value and reason; malformed files fail
//! whole with a clear error; nothing already stored is lost.

use opendata_platform::error::ErrorCode;
use opendata_proto::common::v1::{ColumnType, Role};
use opendata_proto::ingestion::v1::{self as ingestion, UploadMode, UploadState};
use opendata_testkit::{TestStack, wait_until};

use crate::support::*;

fn columns() -> Vec<opendata_proto::common::v1::Column> {
    vec![
        column("Town", ColumnType::Text),
        column("Sale Amount", ColumnType::Number),
        column("Date Recorded", ColumnType::CalendarDate),
    ]
}

async fn dataset_with_one_version(stack: &TestStack) -> (String, String) {
    let key = key_for(stack, "opm", Role::Publisher).await;
    let dataset = create_dataset(stack, &key, "opm", columns(), "").await;
    publish(stack, &dataset).await;
    push(
        stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town,Sale Amount,Date Recorded\nAvon,100,01/02/2020\n",
    )
    .await;
    wait_for_version(stack, &dataset, 1).await;
    (key, dataset)
}

async fn body(stack: &TestStack, dataset: &str) -> String {
    get(stack, &format!("/resource/{dataset}.csv")).await.body
}

async fn working_tables(stack: &TestStack) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'data' AND tablename LIKE 'up\\_%'",
    )
    .fetch_one(&stack.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn bad_rows_are_reported_with_line_column_value_and_reason() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let file = "Town,Sale Amount,Date Recorded\n\
Avon,\"$1,000\",01/30/2023\n\
Bristol,lots,01/31/2023\n\
\"Canaan\nNorth\",5,02/30/2023\n\
Derby,7,2023-02-01\n";
    let upload = create_upload(&stack, &key, &dataset, UploadMode::Replace, 0.5)
        .await
        .unwrap();
    let loaded = send_file(&stack, &key, &upload.id, file.as_bytes(), 5)
        .await
        .unwrap();
    assert_eq!(loaded.state(), UploadState::Loaded);
    assert_eq!(
        (
            loaded.rows_received,
            loaded.rows_loaded,
            loaded.rows_rejected
        ),
        (4, 2, 2)
    );
    let rejections = stack
        .clients(Some(&key))
        .ingestion
        .list_rejections(ingestion::ListRejectionsRequest {
            upload_id: upload.id.clone(),
            page_size: 10,
            after_line: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .rejections;
    let summary: Vec<(u64, &str, &str)> = rejections
        .iter()
        .map(|r| (r.line, r.column.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "sale_amount", "lots"),
            (4, "date_recorded", "02/30/2023")
        ]
    );
    assert_eq!(rejections[0].reason, "not a number");
    assert!(
        rejections[1].reason.starts_with("not a date"),
        "{}",
        rejections[1].reason
    );

    let committed = commit(&stack, &key, &upload.id).await.unwrap();
    assert_eq!(committed.state(), UploadState::Committed);
    wait_for_version(&stack, &dataset, 2).await;
    assert_eq!(
        body(&stack, &dataset).await,
        "\"town\",\"sale_amount\",\"date_recorded\"\n\"Avon\",\"1000\",\"2023-01-30T00:00:00.000\"\n\"Derby\",\"7\",\"2023-02-01T00:00:00.000\"\n"
    );
    stack.stop().await;
}

#[tokio::test]
async fn too_many_rejections_fail_the_commit_whole() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let before = body(&stack, &dataset).await;
    let upload = create_upload(&stack, &key, &dataset, UploadMode::Replace, 0.25)
        .await
        .unwrap();
    send_file(
        &stack,
        &key,
        &upload.id,
        b"Town,Sale Amount,Date Recorded\nA,1,\nB,x,\nC,y,\nD,4,\n",
        100,
    )
    .await
    .unwrap();
    let status = commit(&stack, &key, &upload.id).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    let error = api_error(&status);
    assert_eq!(error.code, ErrorCode::TooManyRejectedRows);
    assert!(
        status.message().contains("2 of 4 rows were rejected"),
        "{}",
        status.message()
    );
    let after = stack
        .clients(Some(&key))
        .ingestion
        .get_upload(ingestion::GetUploadRequest {
            upload_id: upload.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.state(), UploadState::Failed);
    assert_eq!(body(&stack, &dataset).await, before);
    assert_eq!(
        working_tables(&stack).await,
        0,
        "the failed upload's table is dropped"
    );
    stack.stop().await;
}

#[tokio::test]
async fn malformed_files_fail_with_a_clear_error_and_nothing_is_committed() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let before = body(&stack, &dataset).await;
    let cases: Vec<(&str, Vec<u8>, ErrorCode, &str)> = vec![
        (
            "unclosed quote",
            b"Town,Sale Amount,Date Recorded\nAvon,1,01/01/2020\n\"Bristol,2,01/01/2020\n".to_vec(),
            ErrorCode::MalformedFile,
            "line 3: a quoted field is never closed",
        ),
        (
            "wrong column count",
            b"Town,Sale Amount,Date Recorded\nAvon,1,01/01/2020\nBristol,2\n".to_vec(),
            ErrorCode::MalformedFile,
            "line 3: expected 3 fields like the header, found 2",
        ),
        (
            "invalid utf-8",
            b"Town,Sale Amount,Date Recorded\nAvon,1,01/01/2020\nBr\xffstol,2,01/01/2020\n"
                .to_vec(),
            ErrorCode::MalformedFile,
            "line 3, field 1: invalid UTF-8",
        ),
        (
            "empty file",
            Vec::new(),
            ErrorCode::MalformedFile,
            "the file is empty",
        ),
        (
            "unknown column",
            b"Town,Price\nAvon,1\n".to_vec(),
            ErrorCode::SchemaMismatch,
            "header column 2 `Price` is not in the dataset's schema",
        ),
    ];
    for (name, file, code, message) in cases {
        let upload = create_upload(&stack, &key, &dataset, UploadMode::Replace, 1.0)
            .await
            .unwrap();
        let status = send_file(&stack, &key, &upload.id, &file, 3)
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{name}: {status:?}"
        );
        assert_eq!(api_error(&status).code, code, "{name}");
        assert!(
            status.message().contains(message),
            "{name}: {}",
            status.message()
        );
        let commit_status = commit(&stack, &key, &upload.id).await.unwrap_err();
        assert_eq!(
            commit_status.code(),
            tonic::Code::FailedPrecondition,
            "{name}"
        );
        assert!(
            commit_status.message().contains("upload is failed"),
            "{name}: {}",
            commit_status.message()
        );
    }
    assert_eq!(
        body(&stack, &dataset).await,
        before,
        "the public data is untouched"
    );
    assert_eq!(working_tables(&stack).await, 0);
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion.versions")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(versions, 1);
    stack.stop().await;
}

#[tokio::test]
async fn an_upload_takes_one_file_and_a_commit_happens_once() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let upload = create_upload(&stack, &key, &dataset, UploadMode::Append, 0.0)
        .await
        .unwrap();
    send_file(
        &stack,
        &key,
        &upload.id,
        b"Town,Sale Amount,Date Recorded\nB,2,\n",
        8,
    )
    .await
    .unwrap();
    let second = send_file(&stack, &key, &upload.id, b"Town\nC\n", 8)
        .await
        .unwrap_err();
    assert_eq!(second.code(), tonic::Code::FailedPrecondition);
    commit(&stack, &key, &upload.id).await.unwrap();
    let again = commit(&stack, &key, &upload.id).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    assert!(
        again.message().contains("upload is committed"),
        "{}",
        again.message()
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_commit_based_on_an_old_version_is_refused() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let first = create_upload(&stack, &key, &dataset, UploadMode::Append, 0.0)
        .await
        .unwrap();
    let second = create_upload(&stack, &key, &dataset, UploadMode::Append, 0.0)
        .await
        .unwrap();
    for upload in [&first, &second] {
        send_file(
            &stack,
            &key,
            &upload.id,
            b"Town,Sale Amount,Date Recorded\nX,1,\n",
            64,
        )
        .await
        .unwrap();
    }
    commit(&stack, &key, &first.id).await.unwrap();
    let conflict = commit(&stack, &key, &second.id).await.unwrap_err();
    assert_eq!(conflict.code(), tonic::Code::Aborted);
    assert_eq!(api_error(&conflict).code, ErrorCode::VersionConflict);
    wait_for_version(&stack, &dataset, 2).await;
    assert_eq!(
        body(&stack, &dataset).await.lines().count(),
        3,
        "header, the first row and one appended row"
    );
    stack.stop().await;
}

#[tokio::test]
async fn bad_upload_requests_name_the_field() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let cases = [
        (
            ingestion::CreateUploadRequest {
                dataset_id: "nope".into(),
                mode: UploadMode::Replace as i32,
                ..Default::default()
            },
            "dataset_id",
        ),
        (
            ingestion::CreateUploadRequest {
                dataset_id: dataset.clone(),
                mode: 0,
                ..Default::default()
            },
            "mode",
        ),
        (
            ingestion::CreateUploadRequest {
                dataset_id: dataset.clone(),
                mode: UploadMode::Replace as i32,
                max_rejected_fraction: 2.0,
                ..Default::default()
            },
            "max_rejected_fraction",
        ),
        (
            ingestion::CreateUploadRequest {
                dataset_id: dataset.clone(),
                mode: UploadMode::Upsert as i32,
                ..Default::default()
            },
            "mode",
        ),
        (
            ingestion::CreateUploadRequest {
                dataset_id: dataset.clone(),
                mode: UploadMode::Append as i32,
                infer_schema: true,
                ..Default::default()
            },
            "infer_schema",
        ),
        (
            ingestion::CreateUploadRequest {
                dataset_id: dataset.clone(),
                mode: UploadMode::Replace as i32,
                data_as_of: Some(prost_types::Timestamp {
                    seconds: 4_102_444_800,
                    nanos: 0,
                }),
                ..Default::default()
            },
            "data_as_of",
        ),
    ];
    for (request, field) in cases {
        let status = stack
            .clients(Some(&key))
            .ingestion
            .create_upload(request)
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{field}: {status:?}"
        );
        assert_eq!(
            api_error(&status).details.get("field").map(String::as_str),
            Some(field)
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn an_abandoned_upload_leaves_no_trace() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let upload = create_upload(&stack, &key, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap();
    send_file(
        &stack,
        &key,
        &upload.id,
        b"Town,Sale Amount,Date Recorded\nGone,1,\n",
        64,
    )
    .await
    .unwrap();
    assert_eq!(working_tables(&stack).await, 1);
    let abandoned = stack
        .clients(Some(&key))
        .ingestion
        .abandon_upload(ingestion::AbandonUploadRequest {
            upload_id: upload.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(abandoned.state(), UploadState::Abandoned);
    assert_eq!(working_tables(&stack).await, 0);
    assert!(!body(&stack, &dataset).await.contains("Gone"));
    // Retired versions are dropped too, once replaced.
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town,Sale Amount,Date Recorded\nNew,2,\n",
    )
    .await;
    wait_until(EVENTUALLY, "the replaced version's table to be dropped", || {
        let pool = stack.pool.clone();
        async move {
            let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'data' AND tablename LIKE 'ds\\_%'")
                .fetch_one(&pool)
                .await
                .ok()?;
            (tables == 1).then_some(())
        }
    })
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn an_upload_abandoned_while_receiving_stays_abandoned() {
    let stack = TestStack::start().await;
    let (key, dataset) = dataset_with_one_version(&stack).await;
    let upload = create_upload(&stack, &key, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap();
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    sender
        .send(ingestion::UploadChunk {
            upload_id: upload.id.clone(),
            data: bytes::Bytes::from_static(b"Town,Sale Amount,Date Recorded\nA,1,\n"),
        })
        .await
        .unwrap();
    let mut client = stack.clients(Some(&key)).ingestion;
    let receiving = tokio::spawn(async move {
        client
            .upload_chunks(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
    });
    wait_until(EVENTUALLY, "the upload to be receiving", || {
        let pool = stack.pool.clone();
        let id: uuid::Uuid = upload.id.parse().unwrap();
        async move {
            let state: String =
                sqlx::query_scalar("SELECT state FROM ingestion.uploads WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .ok()?;
            (state == "receiving").then_some(())
        }
    })
    .await;
    stack
        .clients(Some(&key))
        .ingestion
        .abandon_upload(ingestion::AbandonUploadRequest {
            upload_id: upload.id.clone(),
        })
        .await
        .unwrap();
    sender
        .send(ingestion::UploadChunk {
            upload_id: String::new(),
            data: bytes::Bytes::from_static(b"B,2,\n"),
        })
        .await
        .unwrap();
    drop(sender);
    let status = receiving.await.unwrap().unwrap_err();
    assert_eq!(
        api_error(&status).code,
        ErrorCode::UploadStateConflict,
        "{status:?}"
    );
    let after = stack
        .clients(Some(&key))
        .ingestion
        .get_upload(ingestion::GetUploadRequest {
            upload_id: upload.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.state(), UploadState::Abandoned);
    assert_eq!(
        commit(&stack, &key, &upload.id).await.unwrap_err().code(),
        tonic::Code::FailedPrecondition
    );
    wait_until(EVENTUALLY, "the working table to be dropped", || {
        let stack = &stack;
        async move { (working_tables(stack).await == 0).then_some(()) }
    })
    .await;
    stack.stop().await;
}
