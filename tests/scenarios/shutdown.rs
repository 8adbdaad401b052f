//! SIGTERM during an upload: the real `opendata up` process drains and exits, nothing is
//! half-committed, and the interrupted upload is cleaned up after a restart.

use std::time::Duration;

use bytes::Bytes;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{ColumnType, Role, Schema};
use opendata_proto::governance::v1::KeyKind;
use opendata_proto::ingestion::v1::{self as ingestion, UploadMode};
use opendata_testkit::{
    ServerProcess, TestDatabase, binary, principal_with_key, review_to_published, wait_until,
};

use crate::support::column;

async fn start(database: &TestDatabase, admin_key: &str) -> ServerProcess {
    let settings = [
        ("OPENDATA_DRAIN_SECS", "2"),
        ("OPENDATA_INGESTION__RECEIVE_IDLE_TIMEOUT_SECS", "1"),
        ("OPENDATA_INGESTION__JANITOR_INTERVAL_SECS", "1"),
    ];
    ServerProcess::start(&binary("debug"), database, admin_key, &settings).await
}

#[tokio::test]
async fn sigterm_during_an_upload_commits_nothing() {
    let database = TestDatabase::create().await;
    let admin_key = format!("odk_shutdown_{}", database.prefix);
    let mut running = start(&database, &admin_key).await;
    let mut identity = running.clients(Some(&admin_key)).identity;
    let key = principal_with_key(&mut identity, "opm", Role::Publisher, KeyKind::ApiKey)
        .await
        .secret;
    let mut catalog_client = running.clients(Some(&key)).catalog;
    let dataset = catalog_client
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Shutdown".into(),
                ..Default::default()
            }),
            schema: Some(Schema {
                columns: vec![column("Town", ColumnType::Text)],
                row_identifier: String::new(),
            }),
            id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut ingestion_client = running.clients(Some(&key)).ingestion;
    let upload_file = |upload_id: String, body: &'static [u8]| {
        tokio_stream::iter(vec![ingestion::UploadChunk {
            upload_id,
            data: Bytes::from_static(body),
        }])
    };
    let first = ingestion_client
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset.clone(),
            mode: UploadMode::Replace as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    ingestion_client
        .upload_chunks(upload_file(first.id.clone(), b"Town\nAvon\n"))
        .await
        .unwrap();
    ingestion_client
        .commit_upload(ingestion::CommitUploadRequest {
            upload_id: first.id,
        })
        .await
        .unwrap();

    // A second upload is mid-stream when SIGTERM arrives: the client never finishes sending.
    let second = ingestion_client
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset.clone(),
            mode: UploadMode::Replace as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    sender
        .send(ingestion::UploadChunk {
            upload_id: second.id.clone(),
            data: Bytes::from_static(b"Town\nBristol\nCanaan\n"),
        })
        .await
        .unwrap();
    let mut streaming_client = ingestion_client.clone();
    let in_flight = tokio::spawn(async move {
        streaming_client
            .upload_chunks(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
    });
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let upload_id: uuid::Uuid = second.id.parse().unwrap();
    wait_until(
        Duration::from_secs(10),
        "the upload to be receiving",
        || {
            let pool = pool.clone();
            async move {
                let state: String =
                    sqlx::query_scalar("SELECT state FROM ingestion.uploads WHERE id = $1")
                        .bind(upload_id)
                        .fetch_one(&pool)
                        .await
                        .ok()?;
                (state == "receiving").then_some(())
            }
        },
    )
    .await;

    let pid = running.child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), running.child.wait())
        .await
        .expect("opendata exits after draining")
        .unwrap();
    assert!(status.success(), "a SIGTERM shutdown is clean: {status:?}");
    let interrupted = in_flight.await.unwrap();
    assert!(
        interrupted.is_err(),
        "the unfinished upload does not succeed"
    );
    drop(sender);

    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM ingestion.versions WHERE dataset_id = $1")
            .bind(&dataset)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        versions,
        vec![1],
        "nothing was committed by the interrupted upload"
    );

    // After a restart the interrupted upload is abandoned and its table dropped; readers see v1.
    let restarted = start(&database, &admin_key).await;
    wait_until(
        Duration::from_secs(15),
        "the interrupted upload to be cleaned up",
        || {
            let pool = pool.clone();
            async move {
                let (state, dropped): (String, bool) = sqlx::query_as(
                    "SELECT state, table_dropped FROM ingestion.uploads WHERE id = $1",
                )
                .bind(upload_id)
                .fetch_one(&pool)
                .await
                .ok()?;
                (state == "abandoned" && dropped).then_some(())
            }
        },
    )
    .await;
    let mut identity = restarted.clients(Some(&admin_key)).identity;
    let cdo = principal_with_key(&mut identity, "cdo", Role::Cdo, KeyKind::ApiKey).await;
    review_to_published(&mut restarted.clients(Some(&cdo.secret)).review, &dataset).await;
    wait_until(Duration::from_secs(15), "version 1 to be served", || {
        let url = format!("{}/resource/{dataset}.csv", restarted.url("edge"));
        async move {
            let body = reqwest::get(url).await.ok()?.text().await.ok()?;
            (body == "\"town\"\n\"Avon\"\n").then_some(())
        }
    })
    .await;
    drop(restarted);
    pool.close().await;
    database.drop_all().await;
}
