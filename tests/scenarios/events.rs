//! Events survive NATS outages (the outbox holds them) and duplicates change nothing.

use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use opendata_platform::config::NatsConfig;
use opendata_platform::events::{
    Event, EventBus, EventHandler, HandlerError, Pace, Route, run_paced_consumer,
};
use opendata_platform::shutdown::Shutdown;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TcpProxy, TestOptions, TestStack, wait_until};

use crate::support::*;

fn nats_address() -> std::net::SocketAddr {
    let url = std::env::var("OPENDATA_TEST_NATS_URL")
        .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    url.trim_start_matches("nats://")
        .parse()
        .expect("a host:port NATS URL")
}

async fn current_version(stack: &TestStack, dataset: &str) -> i64 {
    stack
        .clients(Some(&stack.admin_key))
        .catalog
        .get_dataset(catalog::GetDatasetRequest {
            id: dataset.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .current_version
}

#[tokio::test]
async fn an_event_committed_while_nats_is_down_is_delivered_when_it_returns() {
    let proxy = TcpProxy::start(nats_address()).await;
    let stack = TestStack::start_with(TestOptions {
        nats_url: Some(format!("nats://{}", proxy.address())),
        ..TestOptions::default()
    })
    .await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    wait_for_version(&stack, &dataset, 1).await;

    proxy.cut();
    let upload = push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town\nBristol\n",
    )
    .await;
    assert_eq!(upload.version, 2, "the commit itself does not need NATS");
    // The relay has tried since the commit, and the event is still there.
    stack.after_a_full_round("ingestion", "outbox relay").await;
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ingestion.outbox WHERE published_at IS NULL")
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(
        pending, 1,
        "the version_committed event waits in the outbox"
    );
    assert_eq!(
        current_version(&stack, &dataset).await,
        1,
        "readers keep the committed-before version"
    );

    proxy.restore();
    wait_for_version(&stack, &dataset, 2).await;
    let body = get(&stack, &format!("/resource/{dataset}.csv")).await.body;
    assert_eq!(body, "\"town\"\n\"Bristol\"\n");
    wait_until(EVENTUALLY, "the outbox to be drained", || {
        let pool = stack.pool.clone();
        async move {
            let pending: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM ingestion.outbox WHERE published_at IS NULL",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            (pending == 0).then_some(())
        }
    })
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn a_duplicated_event_is_harmless() {
    let stack = TestStack::start().await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town\nBristol\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 2).await;

    // Replay both version_committed events: once with their own ids (JetStream drops those) and
    // once under new ids (the consumer sees them as new deliveries and must ignore them).
    let events: Vec<(uuid::Uuid, Vec<u8>)> = sqlx::query_as(
        "SELECT id, payload FROM ingestion.outbox WHERE subject = 'opendata.ingestion.v1.version_committed' ORDER BY created_at",
    )
    .fetch_all(&stack.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 2);
    let bus = EventBus::connect(
        &NatsConfig {
            url: std::env::var("OPENDATA_TEST_NATS_URL")
                .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
            prefix: stack.prefix.clone(),
            ..NatsConfig::default()
        },
        "tests",
    )
    .await
    .unwrap();
    for (id, payload) in &events {
        for event_id in [id.to_string(), uuid::Uuid::now_v7().to_string()] {
            bus.publish(
                "opendata.ingestion.v1.version_committed",
                &event_id,
                HeaderMap::new(),
                Bytes::from(payload.clone()),
            )
            .await
            .unwrap();
        }
    }
    // Something after the replays, so we know they were consumed: a third version.
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Append,
        b"Town\nCanaan\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 3).await;
    assert_eq!(current_version(&stack, &dataset).await, 3);
    let body = get(&stack, &format!("/resource/{dataset}.csv?$order=town"))
        .await
        .body;
    assert_eq!(body, "\"town\"\n\"Bristol\"\n\"Canaan\"\n");
    let activations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM catalog.versions WHERE dataset_id = $1")
            .bind(&dataset)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(activations, 3, "each version was activated exactly once");
    let data_updates: i64 =
        sqlx::query_scalar("SELECT count(*) FROM catalog.outbox WHERE subject = 'opendata.catalog.v1.dataset_data_updated'")
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(data_updates, 3, "no extra dataset_data_updated events");
    stack.stop().await;
}

#[tokio::test]
async fn an_append_uses_the_latest_committed_schema_even_before_the_catalog_activates_it() {
    let proxy = TcpProxy::start(nats_address()).await;
    let stack = TestStack::start_with(TestOptions {
        nats_url: Some(format!("nats://{}", proxy.address())),
        ..TestOptions::default()
    })
    .await;
    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    wait_for_version(&stack, &dataset, 1).await;

    proxy.cut();
    let upload = stack
        .clients(Some(&key))
        .ingestion
        .create_upload(opendata_proto::ingestion::v1::CreateUploadRequest {
            dataset_id: dataset.clone(),
            mode: UploadMode::Replace as i32,
            schema: Some(opendata_proto::common::v1::Schema {
                columns: vec![
                    column("Town", ColumnType::Text),
                    column("Sales", ColumnType::Number),
                ],
                row_identifier: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    send_file(&stack, &key, &upload.id, b"Town,Sales\nBristol,3\n", 64)
        .await
        .unwrap();
    commit(&stack, &key, &upload.id).await.unwrap();
    // The catalog still serves version 1 with one column; the append must still use two.
    let appended = push(
        &stack,
        &key,
        &dataset,
        UploadMode::Append,
        b"Town,Sales\nCanaan,4\n",
    )
    .await;
    assert_eq!(appended.version, 3);

    proxy.restore();
    wait_for_version(&stack, &dataset, 3).await;
    let body = get(&stack, &format!("/resource/{dataset}.csv?$order=town"))
        .await
        .body;
    assert_eq!(
        body,
        "\"town\",\"sales\"\n\"Bristol\",\"3\"\n\"Canaan\",\"4\"\n"
    );
    stack.stop().await;
}

#[tokio::test]
async fn streams_are_created_with_the_configured_replicas() {
    let url = std::env::var("OPENDATA_TEST_NATS_URL")
        .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let prefix = format!("r{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let config = |stream_replicas| NatsConfig {
        url: url.clone(),
        prefix: prefix.clone(),
        stream_replicas,
        ..NatsConfig::default()
    };
    let single = EventBus::connect(&config(1), "tests").await.unwrap();
    let stream = single.ensure_stream("catalog").await.unwrap();
    assert_eq!(stream.cached_info().config.num_replicas, 1);
    single.delete_stream("catalog").await.unwrap();

    // One server cannot keep three copies: JetStream refuses, so the setting reached it.
    let clustered = EventBus::connect(&config(3), "tests").await.unwrap();
    let refused = clustered.ensure_stream("catalog").await.unwrap_err();
    assert!(!refused.is_permanent(), "{refused:?}");
    assert!(
        refused.to_string().to_lowercase().contains("replica")
            || refused.to_string().to_lowercase().contains("resources"),
        "{refused}"
    );
}

/// Records the delivery number of every event it is given, taking `work` over each.
struct Slow {
    deliveries: std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
    work: Duration,
}

impl EventHandler for Slow {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        self.deliveries.lock().unwrap().push(event.delivery);
        tokio::time::sleep(self.work).await;
        Ok(())
    }
}

/// An event that takes longer to apply than JetStream waits for its acknowledgement is reported
/// as in progress while it is applied: it is delivered once, not again behind the first delivery
/// (which is how redeliveries snowballed when the search engine was slow).
#[tokio::test]
async fn an_event_slower_than_the_acknowledgement_wait_is_delivered_once() {
    let url = std::env::var("OPENDATA_TEST_NATS_URL")
        .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let prefix = format!("s{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let bus = EventBus::connect(
        &NatsConfig {
            url,
            prefix,
            ..NatsConfig::default()
        },
        "tests",
    )
    .await
    .unwrap();
    bus.ensure_stream("catalog").await.unwrap();
    bus.publish(
        "opendata.catalog.v1.slow_event",
        &uuid::Uuid::now_v7().to_string(),
        HeaderMap::new(),
        Bytes::from_static(b"slow"),
    )
    .await
    .unwrap();
    let deliveries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let shutdown = Shutdown::new();
    let consumer = tokio::spawn(run_paced_consumer(
        bus.clone(),
        Route {
            domain: "catalog",
            event_filter: "slow_event",
            durable: "slow_events",
            own_copy: None,
        },
        Slow {
            deliveries: deliveries.clone(),
            work: Duration::from_millis(2_500),
        },
        shutdown.clone(),
        Pace {
            ack_wait: Duration::from_secs(1),
            batch: 5,
        },
    ));
    // The work, and as long again for a redelivery to show.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(*deliveries.lock().unwrap(), [1], "delivered once");
    shutdown.trigger();
    consumer.await.unwrap().unwrap();
    bus.delete_stream("catalog").await.unwrap();
}
