//! The edge's HTTP plumbing holds against slow and sloppy clients: connections that never finish
//! their headers or sit idle are closed, staff bodies are bounded in size and time, and every error
//! the plumbing itself produces comes in Socrata's shape; gRPC calls with oversized metadata are
//! refused without harming the server.

use std::time::{Duration, Instant};

use opendata_limits::{
    ADMIN_BODY_BYTES, ADMIN_BODY_SECONDS, CONNECTIONS_PER_ADDRESS, GRPC_HEADER_BYTES,
    REQUEST_HEAD_BYTES,
};
use opendata_testkit::{TestOptions, TestStack};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::*;

/// Reads from `stream` until the server closes it; how long that took and what it sent.
async fn closed_after(stream: &mut TcpStream) -> (Duration, String) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    started.elapsed(),
                    String::from_utf8_lossy(&received).into_owned(),
                );
            }
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
            Err(_) => panic!("the edge kept the connection open for 30 s"),
        }
    }
}

fn edge_address(stack: &TestStack) -> std::net::SocketAddr {
    stack.addresses.edge
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let stack = TestStack::start_with(TestOptions {
        edge_read_timeout_secs: 1,
        ..TestOptions::default()
    })
    .await;

    let mut slow = TcpStream::connect(edge_address(&stack)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (waited, received) = closed_after(&mut slow).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(!received.contains("200 OK"), "{received}");

    let mut idle = TcpStream::connect(edge_address(&stack)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // The answer comes, then the kept-alive connection is closed once idle too long.
    let (waited, received) = closed_after(&mut idle).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
}

#[tokio::test]
async fn staff_bodies_are_bounded_in_size_and_time() {
    let stack = TestStack::start_with(TestOptions {
        edge_read_timeout_secs: 1,
        ..TestOptions::default()
    })
    .await;
    let cdo = stack.cdo_key().await;
    let huge = format!(
        "{{\"reason\": \"{}\"}}",
        "x".repeat(ADMIN_BODY_BYTES.get() + 1)
    );
    let response = send(
        &stack,
        "/api/admin/datasets/abcd-1234/approve",
        Some(&cdo),
        Some(&huge),
    )
    .await;
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.json()["data"]["limit"], ADMIN_BODY_BYTES.name);

    let mut slow = TcpStream::connect(edge_address(&stack)).await.unwrap();
    let head = format!(
        "POST /api/admin/datasets/abcd-1234/approve HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {cdo}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut answer))
        .await
        .expect("the edge answers a stalled body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(ADMIN_BODY_SECONDS.name), "{answer}");
}

#[tokio::test]
async fn plumbing_errors_come_in_socratas_shape_and_pages_are_not_sniffed() {
    let stack = TestStack::start().await;
    let client = reqwest::Client::new();
    let wrong_method = client
        .delete(format!(
            "{}/api/admin/datasets/abcd-1234/approve",
            stack.edge_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert!(wrong_method.headers().contains_key("allow"));
    let body: serde_json::Value =
        serde_json::from_str(&wrong_method.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], "method_not_allowed", "{body}");
    assert_eq!(body["error"], true);

    let response = get(&stack, "/data.json").await;
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));

    // A page on another origin may send a key.
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/admin/stale", stack.edge_url()),
        )
        .header("origin", "https://example.org")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, x-app-token",
        )
        .send()
        .await
        .unwrap();
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
}

#[tokio::test]
async fn grpc_calls_with_oversized_metadata_are_refused_and_the_server_goes_on() {
    let stack = TestStack::start().await;
    let mut catalog = stack.clients(None).catalog;
    let lookup = || opendata_proto::catalog::v1::GetDatasetRequest {
        id: "abcd-1234".to_owned(),
    };

    let mut padded = tonic::Request::new(lookup());
    padded.metadata_mut().insert(
        "x-padding",
        "p".repeat(2 * GRPC_HEADER_BYTES.get()).parse().unwrap(),
    );
    let refused = catalog.get_dataset(padded).await.unwrap_err();
    // HTTP/2 refuses the headers before tonic sees the call: 431, without a gRPC status.
    assert!(refused.message().contains("431"), "{refused:?}");

    // The service is still there, on a fresh call.
    let mut catalog = stack.clients(None).catalog;
    let missing = catalog.get_dataset(lookup()).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
}

#[tokio::test]
async fn one_address_keeps_only_its_share_of_connections_and_heads_are_bounded() {
    let stack = TestStack::start().await;
    let mut held = Vec::new();
    for _ in 0..CONNECTIONS_PER_ADDRESS.get() {
        held.push(TcpStream::connect(edge_address(&stack)).await.unwrap());
    }
    // Accepted in order: once the last of its share is in, the next one is closed at once.
    let mut last = held.pop().unwrap();
    last.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    last.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let mut extra = TcpStream::connect(edge_address(&stack)).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (waited, received) = closed_after(&mut extra).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(received.is_empty(), "{received}");
    drop(held);
    drop(last);

    // A request head past its limit is refused by the HTTP layer.
    let mut large = TcpStream::connect(edge_address(&stack)).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(2 * REQUEST_HEAD_BYTES.get())
    );
    let _ = large.write_all(head.as_bytes()).await;
    let (_, received) = closed_after(&mut large).await;
    assert!(received.starts_with("HTTP/1.1 431"), "{received}");
}
