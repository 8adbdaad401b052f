//! Fair sharing: no caller can take every query slot, anonymous queries stop sooner than keyed
//! ones, a client that goes away takes its query with it, and quotas hold for invalid app tokens
//! and staff routes.
//!
//! Slow queries are made deterministic by locking a dataset's table: a query of it waits for the
//! lock, before its first row, for as long as the test wants.

use opendata_limits::{EXPENSIVE_PUBLIC_QUERIES, IN_FLIGHT_PER_ADDRESS};
use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestOptions, TestStack};

use super::{lock_rows, wait_for_waiting};
use crate::support::*;

/// A published dataset with a few rows; its publisher key and id.
async fn towns(stack: &TestStack) -> (String, String) {
    let (key, dataset) =
        published_dataset(stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(
        stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town\nAvon\nBristol\n",
    )
    .await;
    wait_for_version(stack, &dataset, 1).await;
    (key, dataset)
}

/// A GET from the client at `address` (the edge trusts `X-Forwarded-For` in these tests).
fn get_from(
    stack: &TestStack,
    address: &str,
    path: &str,
    key: Option<&str>,
) -> tokio::task::JoinHandle<(u16, serde_json::Value)> {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", stack.edge_url()))
        .header("x-forwarded-for", address);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    tokio::spawn(async move {
        let response = request.send().await.expect("http request");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&body).unwrap_or_default();
        (status, body)
    })
}

#[tokio::test]
async fn a_client_that_goes_away_takes_its_query_with_it() {
    let stack = TestStack::start().await;
    let (_, dataset) = towns(&stack).await;
    let (lock, table) = lock_rows(&stack.pool, &dataset).await;

    let request = get_from(
        &stack,
        "10.0.0.1",
        &format!("/resource/{dataset}.json"),
        None,
    );
    wait_for_waiting(&stack.pool, &table, 1).await;
    request.abort();
    // Without cancelling, it would wait for the lock until its 60 s statement timeout.
    wait_for_waiting(&stack.pool, &table, 0).await;
    lock.commit().await.unwrap();
}

#[tokio::test]
async fn one_address_cannot_take_every_query_slot() {
    let stack = TestStack::start_with(TestOptions {
        in_flight_per_caller: IN_FLIGHT_PER_ADDRESS.value as u32,
        trust_forwarded_for: true,
        ..TestOptions::default()
    })
    .await;
    let (_, slow) = towns(&stack).await;
    let (_, other) = towns(&stack).await;
    let (lock, table) = lock_rows(&stack.pool, &slow).await;

    let path = format!("/resource/{slow}.json");
    let hogs: Vec<_> = (0..IN_FLIGHT_PER_ADDRESS.value)
        .map(|_| get_from(&stack, "10.0.0.1", &path, None))
        .collect();
    wait_for_waiting(&stack.pool, &table, IN_FLIGHT_PER_ADDRESS.value as i64).await;

    let (status, body) = get_from(&stack, "10.0.0.1", &path, None).await.unwrap();
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["data"]["limit"], IN_FLIGHT_PER_ADDRESS.name, "{body}");
    // Everyone else is served meanwhile.
    let (status, body) = get_from(&stack, "10.0.0.2", &format!("/resource/{other}.json"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");

    lock.commit().await.unwrap();
    for hog in hogs {
        assert_eq!(hog.await.unwrap().0, 200);
    }
    let (status, _) = get_from(&stack, "10.0.0.1", &path, None).await.unwrap();
    assert_eq!(status, 200, "finished requests free their places");
}

#[tokio::test]
async fn anonymous_queries_stop_sooner_than_keyed_ones() {
    let stack = TestStack::start_with(TestOptions {
        anonymous_query_timeout_secs: 1,
        ..TestOptions::default()
    })
    .await;
    let (key, dataset) = towns(&stack).await;
    let (lock, table) = lock_rows(&stack.pool, &dataset).await;
    let path = format!("/resource/{dataset}.json");

    let keyed = get_from(&stack, "10.0.0.1", &path, Some(&key));
    wait_for_waiting(&stack.pool, &table, 1).await;
    let (status, body) = get_from(&stack, "10.0.0.2", &path, None).await.unwrap();
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["code"], "query.execution.timeout", "{body}");
    // The anonymous query is cancelled; the keyed one, older, still waits for the lock.
    wait_for_waiting(&stack.pool, &table, 1).await;
    assert!(!keyed.is_finished(), "the keyed query still runs");

    lock.commit().await.unwrap();
    assert_eq!(keyed.await.unwrap().0, 200);
}

#[tokio::test]
async fn expensive_public_queries_take_turns_and_leave_the_rest_alone() {
    // Every query counts as expensive here, so waiting on a lock stands in for a long scan.
    let stack = TestStack::start_with(TestOptions {
        expensive_query_cost: 0.0,
        expensive_public_queries: Some(EXPENSIVE_PUBLIC_QUERIES.value as u32),
        trust_forwarded_for: true,
        ..TestOptions::default()
    })
    .await;
    let (key, slow) = towns(&stack).await;
    let (_, other) = towns(&stack).await;
    let (lock, table) = lock_rows(&stack.pool, &slow).await;
    let path = format!("/resource/{slow}.json");
    let scans: Vec<_> = (0..EXPENSIVE_PUBLIC_QUERIES.value)
        .map(|index| get_from(&stack, &format!("10.0.1.{index}"), &path, None))
        .collect();
    wait_for_waiting(&stack.pool, &table, EXPENSIVE_PUBLIC_QUERIES.value as i64).await;

    let (status, body) = get_from(&stack, "10.0.2.1", &path, None).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["data"]["limit"], EXPENSIVE_PUBLIC_QUERIES.name,
        "{body}"
    );
    // Key holders are not in the public's share.
    let (status, body) = get_from(
        &stack,
        "10.0.2.2",
        &format!("/resource/{other}.json"),
        Some(&key),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");

    lock.commit().await.unwrap();
    for scan in scans {
        assert_eq!(scan.await.unwrap().0, 200);
    }
}

#[tokio::test]
async fn invalid_app_tokens_and_staff_routes_spend_the_address_quota() {
    let stack = TestStack::start_with(TestOptions {
        anonymous_per_minute: 3,
        trust_forwarded_for: true,
        ..TestOptions::default()
    })
    .await;
    let client = reqwest::Client::new();
    let send = |address: &'static str, path: &str, header: (&'static str, &'static str)| {
        client
            .get(format!("{}{path}", stack.edge_url()))
            .header("x-forwarded-for", address)
            .header(header.0, header.1)
            .send()
    };
    let statuses = async |address, path: &str, header| {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(send(address, path, header).await.unwrap().status().as_u16());
        }
        statuses
    };
    let guessed = statuses("10.0.0.1", "/data.json", ("x-app-token", "guessed")).await;
    assert_eq!(guessed, [403, 403, 403, 429]);
    let staff = statuses(
        "10.0.0.2",
        "/api/admin/stale",
        ("authorization", "Bearer guessed"),
    )
    .await;
    assert_eq!(staff, [401, 401, 401, 429]);
}

#[tokio::test]
async fn bearer_is_read_in_any_case() {
    let stack = TestStack::start().await;
    let cdo = stack.cdo_key().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = reqwest::Client::new()
            .get(format!("{}/api/admin/stale", stack.edge_url()))
            .header("authorization", format!("{scheme} {cdo}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
    }
}
