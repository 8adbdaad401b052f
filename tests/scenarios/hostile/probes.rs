//! Every probe of the hardening review, sent to the real `opendata up` process (tokio's 2 MiB
//! worker stacks, the release of a real process's memory): each gets the status it should, the
//! process is alive and ready afterwards, and an ordinary query answers while one address keeps
//! twenty expensive ones going.

use std::time::Duration;

use bytes::Bytes;
use opendata_limits::{EXPENSIVE_PUBLIC_QUERIES, IN_FLIGHT_PER_ADDRESS};
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{ColumnType, Role, Schema};
use opendata_proto::governance::v1::{self as governance, KeyKind};
use opendata_proto::ingestion::v1::{self as ingestion, UploadMode};
use opendata_testkit::{
    ServerProcess, TestDatabase, binary, principal_with_key, review_to_published, wait_until,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{lock_rows, waiting_on};
use crate::support::{EVENTUALLY, column};

/// A published dataset of towns in the process; its id.
async fn towns(server: &ServerProcess, publisher: &str, cdo: &str) -> String {
    let dataset = server
        .clients(Some(publisher))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".to_owned(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Sales".to_owned(),
                ..Default::default()
            }),
            schema: Some(Schema {
                columns: vec![
                    column("Town", ColumnType::Text),
                    column("Sale Amount", ColumnType::Number),
                ],
                row_identifier: String::new(),
            }),
            id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut ingestion = server.clients(Some(publisher)).ingestion;
    let upload = ingestion
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset.clone(),
            mode: UploadMode::Replace as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let file = Bytes::from_static(b"Town,Sale Amount\nAvon,100\nHartford,300\n");
    ingestion
        .upload_chunks(tokio_stream::iter(vec![ingestion::UploadChunk {
            upload_id: upload.id.clone(),
            data: file,
        }]))
        .await
        .unwrap();
    ingestion
        .commit_upload(ingestion::CommitUploadRequest {
            upload_id: upload.id,
        })
        .await
        .unwrap();
    review_to_published(&mut server.clients(Some(cdo)).review, &dataset).await;
    let url = format!("{}/resource/{dataset}.json", server.url("edge"));
    wait_until(EVENTUALLY, "the dataset to be public with rows", || async {
        let body = reqwest::get(&url).await.ok()?.text().await.ok()?;
        body.contains("Hartford").then_some(())
    })
    .await;
    dataset
}

/// `GET` from the client at `address` (the process trusts `X-Forwarded-For`); status and body.
async fn get_from(server: &ServerProcess, address: &str, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.url("edge")))
        .header("x-forwarded-for", address)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{}: {}", &path[..path.len().min(80)], error.without_url()));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

fn encoded(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn every_probe_is_answered_and_the_process_stays_up() {
    let database = TestDatabase::create().await;
    let admin_key = format!("odk_probes_{}", database.prefix);
    let settings = [("OPENDATA_EDGE__RATE_LIMITS__TRUST_FORWARDED_FOR", "true")];
    let mut server = ServerProcess::start(&binary("debug"), &database, &admin_key, &settings).await;
    let mut identity = server.clients(Some(&admin_key)).identity;
    let publisher = principal_with_key(&mut identity, "opm", Role::Publisher, KeyKind::ApiKey)
        .await
        .secret;
    let ado = principal_with_key(&mut identity, "opm", Role::Ado, KeyKind::ApiKey)
        .await
        .secret;
    let cdo = principal_with_key(&mut identity, "cdo", Role::Cdo, KeyKind::ApiKey)
        .await
        .secret;
    let dataset = towns(&server, &publisher, &cdo).await;
    let other = towns(&server, &publisher, &cdo).await;
    let resource = format!("/resource/{dataset}.json");

    let chain = encoded(&format!("sale_amount > 1{}", "+1".repeat(300)));
    let alternatives: Vec<String> = (0..500).map(|n| format!("town='town {n}'")).collect();
    let alternatives = encoded(&alternatives.join(" OR "));
    let selection = encoded(&vec!["town"; 1_700].join(","));
    let in_list = encoded(&format!("sale_amount IN ({})", vec!["1"; 10_001].join(",")));
    let words = encoded(&vec!["word"; 5_000].join(" OR "));
    let probes: Vec<(String, u16)> = vec![
        (format!("{resource}?$where={chain}"), 400),
        (format!("{resource}?$where={alternatives}"), 200),
        (format!("{resource}?$select={selection}"), 400),
        (format!("{resource}?$where={in_list}"), 400),
        (format!("{resource}?$q={words}"), 400),
        (format!("{resource}?$where=town%3D%27a%00%27"), 400),
        (format!("{resource}?$q=a%00"), 400),
        (format!("{resource}?town=a%00"), 400),
        (
            format!("{resource}?$where=town%3D%27a%27&$where=town%3D%27b%27"),
            400,
        ),
        ("/api/incentives/awards?company=ac%00me".to_owned(), 400),
        ("/api/catalog/v1?q=real%00estate".to_owned(), 400),
        (format!("{resource}?$$app_token=guessed"), 403),
        ("/api/admin/stale".to_owned(), 401),
    ];
    for (path, expected) in &probes {
        let (status, body) = get_from(&server, "10.0.0.1", path).await;
        assert_eq!(
            status,
            *expected,
            "{}: {body}",
            &path[..path.len().min(120)]
        );
        if *expected >= 400 {
            let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            assert_eq!(
                body["error"],
                true,
                "Socrata's shape for {}",
                &path[..80.min(path.len())]
            );
        }
    }
    // Past the URI limit, which clients refuse to build, so written by hand.
    let edge = server.url("edge").trim_start_matches("http://").to_owned();
    let mut connection = tokio::net::TcpStream::connect(&edge).await.unwrap();
    let request = format!(
        "GET {resource}?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "x".repeat(70_000)
    );
    connection.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 64];
    let read = connection.read(&mut answer).await.unwrap();
    assert!(
        answer[..read].starts_with(b"HTTP/1.1 414"),
        "{}",
        String::from_utf8_lossy(&answer[..read])
    );

    let response = reqwest::Client::new()
        .delete(format!("{}{resource}", server.url("edge")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/admin/datasets/{dataset}/retire",
            server.url("edge")
        ))
        .header("authorization", format!("Bearer {cdo}"))
        .body(format!("{{\"reason\": \"{}\"}}", "r".repeat(100_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    // The same through gRPC, where agencies call.
    let status = server
        .clients(None)
        .catalog
        .query_rows(catalog::QueryRowsRequest {
            dataset_id: dataset.clone(),
            where_clause: format!("sale_amount > 1{}", "+1".repeat(300)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let status = server
        .clients(Some(&ado))
        .review
        .nominate(governance::NominateRequest {
            dataset_id: other.clone(),
            justification: "j".repeat(1 << 20),
            accrual_periodicity: "R/P1M".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let status = server
        .clients(Some(&publisher))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".to_owned(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Sales\0".to_owned(),
                description: "d".repeat(1 << 20),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    // One address keeps twenty expensive queries going (they wait on a lock, as long as the
    // test wants); it gets only its share, and everyone else is served meanwhile.
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let (lock, table) = lock_rows(&pool, &dataset).await;
    let hogs: Vec<_> = (0..20)
        .map(|_| {
            let url = format!("{}{resource}", server.url("edge"));
            tokio::spawn(async move {
                reqwest::Client::new()
                    .get(url)
                    .header("x-forwarded-for", "10.6.6.6")
                    .send()
                    .await
                    .map(|response| response.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    // Its share is four at once (the rest are told 429); their plans are unknown while the table
    // is locked, so they count as expensive: two of them wait for the lock, the other two for
    // their turn.
    wait_until(EVENTUALLY, "the expensive queries to wait", || async {
        (waiting_on(&pool, &table).await == EXPENSIVE_PUBLIC_QUERIES.value as i64).then_some(())
    })
    .await;
    let ordinary = tokio::time::timeout(
        Duration::from_secs(10),
        get_from(&server, "10.0.0.2", &format!("/resource/{other}.json")),
    )
    .await
    .expect("an ordinary query answers while the expensive ones run");
    assert_eq!(ordinary.0, 200, "{}", ordinary.1);
    lock.commit().await.unwrap();
    let mut statuses = Vec::new();
    for hog in hogs {
        statuses.push(hog.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|status| **status == 429).count(),
        20 - IN_FLIGHT_PER_ADDRESS.get(),
        "{statuses:?}"
    );
    // The two waiting for their turn are served, or told 503 if their wait ran out first.
    let served = statuses.iter().filter(|status| **status == 200).count();
    let deferred = statuses.iter().filter(|status| **status == 503).count();
    assert!(served >= EXPENSIVE_PUBLIC_QUERIES.get(), "{statuses:?}");
    assert_eq!(
        served + deferred,
        IN_FLIGHT_PER_ADDRESS.get(),
        "{statuses:?}"
    );

    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the process is still running"
    );
    let (status, body) = get_from(&server, "10.0.0.3", "/readyz").await;
    assert_eq!(status, 200, "{body}");
    server.terminate();
    let _ = server.child.wait().await;
    pool.close().await;
    database.drop_all().await;
}
