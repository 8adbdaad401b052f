//! SIGTERM during an upload: the real `opendata up` process drains and exits, nothing is
//! half-committed, and the interrupted upload is cleaned up after a restart.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use opendata_platform::grpc::{ClientContext, channel};
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{ColumnType, Role, Schema};
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::{self as ingestion, UploadMode};
use opendata_testkit::{TestDatabase, nats_url, wait_until};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::support::column;

/// The `opendata` binary next to this test's executable (`make test` builds it first).
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory")
        .join("opendata");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --bin opendata` (make test does)",
        path.display()
    );
    path
}

struct Running {
    child: Child,
    governance: String,
    catalog: String,
    ingestion: String,
    edge: String,
}

async fn start(database: &TestDatabase, admin_key: &str) -> Running {
    let mut child = Command::new(binary())
        .arg("up")
        .env("OPENDATA_DATABASE__URL", &database.url)
        .env("OPENDATA_NATS__URL", nats_url())
        .env("OPENDATA_NATS__PREFIX", &database.prefix)
        .env("OPENDATA_LISTEN__GOVERNANCE", "127.0.0.1:0")
        .env("OPENDATA_LISTEN__CATALOG", "127.0.0.1:0")
        .env("OPENDATA_LISTEN__INGESTION", "127.0.0.1:0")
        .env("OPENDATA_LISTEN__EDGE", "127.0.0.1:0")
        .env("OPENDATA_DRAIN_SECS", "2")
        .env("OPENDATA_GOVERNANCE__BOOTSTRAP_ADMIN_KEY", admin_key)
        .env("OPENDATA_INGESTION__RECEIVE_IDLE_TIMEOUT_SECS", "1")
        .env("OPENDATA_INGESTION__JANITOR_INTERVAL_SECS", "1")
        .env("OPENDATA_TELEMETRY__LOG_FILTER", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start opendata up");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut addresses = std::collections::HashMap::new();
    while addresses.len() < 4 {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("opendata up prints its addresses")
            .expect("stdout")
            .expect("opendata up exited early");
        if let Some(rest) = line.strip_prefix("opendata: ") {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_default().to_owned();
            let url = words.last().unwrap_or_default().to_owned();
            addresses.insert(name, url);
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running {
        child,
        governance: addresses.remove("governance").unwrap(),
        catalog: addresses.remove("catalog").unwrap(),
        ingestion: addresses.remove("ingestion").unwrap(),
        edge: addresses.remove("edge").unwrap(),
    }
}

#[tokio::test]
async fn sigterm_during_an_upload_commits_nothing() {
    let database = TestDatabase::create().await;
    let admin_key = format!("odk_shutdown_{}", database.prefix);
    let mut running = start(&database, &admin_key).await;
    let admin = ClientContext::with_key(&admin_key).unwrap();
    let mut identity = governance::identity_service_client::IdentityServiceClient::with_interceptor(
        channel(&running.governance).unwrap(),
        admin.clone(),
    );
    identity
        .create_agency(governance::CreateAgencyRequest {
            id: "opm".into(),
            name: "OPM".into(),
        })
        .await
        .unwrap();
    let principal = identity
        .create_principal(governance::CreatePrincipalRequest {
            name: "Loader".into(),
            role: Role::Publisher as i32,
            agency_id: "opm".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let key = identity
        .issue_key(governance::IssueKeyRequest {
            principal_id: principal.id,
            label: String::new(),
            kind: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .secret;
    let publisher = ClientContext::with_key(&key).unwrap();
    let mut catalog_client =
        catalog::catalog_service_client::CatalogServiceClient::with_interceptor(
            channel(&running.catalog).unwrap(),
            publisher.clone(),
        );
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
    let mut ingestion_client =
        ingestion::ingestion_service_client::IngestionServiceClient::with_interceptor(
            channel(&running.ingestion).unwrap(),
            publisher.clone(),
        );
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

    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM ingestion.versions")
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
    let mut admin_catalog = catalog::catalog_service_client::CatalogServiceClient::with_interceptor(
        channel(&restarted.catalog).unwrap(),
        admin,
    );
    admin_catalog
        .set_publication_stage(catalog::SetPublicationStageRequest {
            id: dataset.clone(),
            stage: catalog::PublicationStage::Published as i32,
        })
        .await
        .unwrap();
    wait_until(Duration::from_secs(15), "version 1 to be served", || {
        let url = format!("{}/resource/{dataset}.csv", restarted.edge);
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
