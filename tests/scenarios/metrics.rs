//! Prometheus metrics: after a push, a row query and a search, the exposition counts them by RPC
//! method and HTTP route, reports pools, outbox backlog, consumer lag and the index's size, and
//! never turns what a caller sent (an unknown path or method) into a label.

use std::collections::HashMap;

use opendata_platform::shutdown::Shutdown;
use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestStack, wait_until};

use crate::support::*;

/// One scrape: every sample by its series (`name{labels}`), and the whole text.
struct Scrape {
    samples: HashMap<String, f64>,
    text: String,
}

impl Scrape {
    async fn take(url: &str) -> Scrape {
        let response = reqwest::get(url).await.expect("scrape");
        assert_eq!(response.status(), 200);
        assert!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/openmetrics-text")),
            "OpenMetrics text"
        );
        let text = response.text().await.unwrap();
        assert!(text.ends_with("# EOF\n"), "a whole exposition");
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect();
        Scrape { samples, text }
    }

    fn value(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no series {series} in:\n{}", self.text))
    }
}

#[tokio::test]
async fn the_exposition_counts_requests_rows_and_backlogs_with_bounded_labels() {
    let stack = TestStack::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    tokio::spawn(opendata_platform::metrics::serve(
        listener,
        shutdown.clone(),
    ));

    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town\nAvon\nBristol\nCanton\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 1).await;
    let rows = get(&stack, &format!("/resource/{dataset}.json")).await;
    assert_eq!(rows.status, 200, "{}", rows.body);
    // Made-up paths and methods are counted, but never as themselves.
    let unmatched = get(&stack, "/no-such-route-f00d").await;
    assert_eq!(unmatched.status, 404);
    let invented = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"FROBNICATE").unwrap(),
            format!("{}/resource/{dataset}.json", stack.edge_url()),
        )
        .send()
        .await
        .unwrap();
    assert!(invented.status().is_client_error());
    // A gRPC method no service declares is answered, and counted as `other`.
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", stack.addresses.catalog))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let made_up: Result<tonic::Response<()>, tonic::Status> = grpc
        .unary(
            tonic::Request::new(()),
            tonic::codegen::http::uri::PathAndQuery::from_static(
                "/opendata.catalog.v1.CatalogService/NoSuchMethodBeef",
            ),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    assert_eq!(made_up.unwrap_err().code(), tonic::Code::Unimplemented);
    // The metrics are not public: the edge has no /metrics.
    assert_eq!(get(&stack, "/metrics").await.status, 404);

    let scrape = Scrape::take(&format!("{url}/metrics")).await;
    assert!(
        scrape.value(
            r#"opendata_rpc_requests_total{method="/opendata.ingestion.v1.IngestionService/CommitUpload",code="OK"}"#
        ) >= 1.0
    );
    assert!(
        scrape.value(
            r#"opendata_rpc_duration_seconds_count{method="/opendata.catalog.v1.CatalogService/QueryRows"}"#
        ) >= 1.0
    );
    assert!(
        scrape.value(
            r#"opendata_http_requests_total{route="/resource/{file}",method="GET",status="2xx"}"#
        ) >= 1.0
    );
    assert!(
        scrape
            .value(r#"opendata_http_requests_total{route="unmatched",method="GET",status="4xx"}"#)
            >= 1.0
    );
    assert!(!scrape.text.contains("f00d"), "no raw path as a label");
    assert!(
        !scrape.text.contains("FROBNICATE"),
        "no raw method as a label"
    );
    assert!(
        !scrape.text.contains("Beef"),
        "no made-up gRPC method as a label"
    );
    assert!(
        scrape.value(r#"opendata_rpc_requests_total{method="other",code="UNIMPLEMENTED"}"#) >= 1.0
    );
    assert!(scrape.value("opendata_rows_ingested_total") >= 3.0);
    assert!(scrape.value("opendata_query_rows_streamed_total") >= 3.0);
    assert!(
        scrape
            .value(r#"opendata_db_pool_connections{service="catalog",pool="queries",state="max"}"#)
            >= 1.0
    );
    assert!(
        scrape
            .value(r#"opendata_db_pool_connections{service="ingestion",pool="main",state="max"}"#)
            >= 1.0
    );
    for service in ["catalog", "ingestion", "governance", "incentives"] {
        // Every event committed so far has been relayed (the dataset's version is served).
        assert!(
            scrape.value(&format!(
                r#"opendata_outbox_backlog_events{{service="{service}"}}"#
            )) < 100.0
        );
        assert_eq!(
            scrape.value(&format!(
                r#"opendata_outbox_dead_letters{{service="{service}"}}"#
            )),
            0.0
        );
    }
    assert!(
        scrape
            .samples
            .keys()
            .any(|series| series.starts_with("opendata_consumer_pending_events{")),
        "consumers report what they have yet to receive"
    );
    assert!(
        scrape
            .samples
            .keys()
            .any(|series| series.starts_with("opendata_consumer_lag_seconds{")),
        "consumers report their lag"
    );
    assert_eq!(
        scrape.value(&format!(
            r#"opendata_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );

    // The index grows as datasets are published (the search consumer applies the change).
    wait_until(
        std::time::Duration::from_secs(20),
        "the index counts the published dataset",
        || {
            let url = url.clone();
            async move {
                let scrape = Scrape::take(&format!("{url}/metrics")).await;
                scrape
                    .samples
                    .get(r#"opendata_search_documents{engine="embedded"}"#)
                    .is_some_and(|documents| *documents >= 1.0)
                    .then_some(())
            }
        },
    )
    .await;

    // A probe that cannot read what it reports is counted, so stale gauges are noticed.
    let _failing = opendata_platform::metrics::metrics().on_scrape("outbox", || async {
        Err("the database is away".to_owned())
    });
    wait_until(EVENTUALLY, "the failing probe to be counted", || async {
        let scrape = Scrape::take(&format!("{url}/metrics")).await;
        let failures = scrape
            .samples
            .get(r#"opendata_probe_failures_total{probe="outbox"}"#);
        failures.is_some_and(|count| *count >= 1.0).then_some(())
    })
    .await;

    let elsewhere = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(elsewhere.status(), 404);
    shutdown.trigger();
    stack.stop().await;
}

/// The metrics listener serves `scrape_connections` at once: with that many connections held
/// open, a further scrape waits; once they go, it is answered.
#[tokio::test]
async fn scrapes_past_the_connection_limit_wait_for_a_place() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(opendata_platform::metrics::serve(
        listener,
        shutdown.clone(),
    ));
    let mut held = Vec::new();
    for _ in 0..opendata_limits::SCRAPE_CONNECTIONS.value {
        held.push(tokio::net::TcpStream::connect(address).await.unwrap());
    }
    // Let the listener take them all.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let url = format!("http://{address}/metrics");
    let waiting = client.get(&url).send().await;
    assert!(
        waiting.is_err_and(|error| error.is_timeout()),
        "a scrape past the limit is not served while the places are taken"
    );
    drop(held);
    let answered = client
        .get(&url)
        .send()
        .await
        .expect("a place is free again");
    assert_eq!(answered.status(), 200);
    shutdown.trigger();
}
