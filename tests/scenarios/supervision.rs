//! Background work that dies is never silent: when a service's outbox relay or event consumer
//! cannot go on, the service stops serving at once (gRPC health, the edge's `/readyz`) and stops,
//! and `opendata up` exits non-zero so its supervisor restarts it.

use std::time::Duration;

use opendata_proto::common::v1::{ColumnType, Role};
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{ServerProcess, TestDatabase, TestStack, binary, wait_until};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::*;

/// Whether the service at `url` answers its health check with serving.
async fn serving(url: &str) -> bool {
    let Ok(channel) = opendata_platform::channels::channel(url) else {
        return false;
    };
    let check = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    matches!(check, Ok(response) if response.get_ref().status() == ServingStatus::Serving)
}

/// Waits until the edge says it is not ready because `dependency` is not serving.
async fn wait_unready_for(stack: &TestStack, dependency: &str) {
    wait_until(EVENTUALLY, "the edge to be unready", || async {
        let ready = get(stack, "/readyz").await;
        (ready.status == 503 && ready.json()["dependencies"][dependency] == "not serving")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_dead_relay_turns_its_service_unhealthy() {
    let stack = TestStack::start().await;
    let catalog_url = format!("http://{}", stack.addresses.catalog);
    assert!(serving(&catalog_url).await);
    assert_eq!(get(&stack, "/readyz").await.status, 200);

    // A broken deployment no retry can fix: the catalog's outbox is gone.
    sqlx::query("ALTER TABLE catalog.outbox RENAME TO outbox_lost")
        .execute(&stack.pool)
        .await
        .unwrap();
    wait_until(EVENTUALLY, "the catalog to stop serving", || async {
        (!serving(&catalog_url).await).then_some(())
    })
    .await;
    wait_unready_for(&stack, "catalog").await;
    // Governance, whose relay is fine, keeps serving.
    assert!(serving(&format!("http://{}", stack.addresses.governance)).await);
}

#[tokio::test]
async fn a_dead_consumer_turns_its_service_unhealthy() {
    let stack = TestStack::start().await;
    let columns = vec![column("Town", ColumnType::Text)];
    let (key, dataset) = published_dataset(&stack, "opm", columns, "").await;
    sqlx::query("ALTER TABLE catalog.inbox RENAME TO inbox_lost")
        .execute(&stack.pool)
        .await
        .unwrap();

    // The version committed event reaches the catalog's consumer, which cannot record it.
    push(&stack, &key, &dataset, UploadMode::Replace, b"Town\nAvon\n").await;
    let catalog_url = format!("http://{}", stack.addresses.catalog);
    wait_until(EVENTUALLY, "the catalog to stop serving", || async {
        (!serving(&catalog_url).await).then_some(())
    })
    .await;
    wait_unready_for(&stack, "catalog").await;
}

#[tokio::test]
async fn opendata_up_exits_non_zero_when_a_service_dies() {
    let database = TestDatabase::create().await;
    let admin_key = format!("odk_supervision_{}", database.prefix);
    let settings = [("OPENDATA_DRAIN_SECS", "1")];
    let mut running =
        ServerProcess::start(&binary("debug"), &database, &admin_key, &settings).await;
    let key_holder = running.clients(Some(&admin_key));
    let mut identity = key_holder.identity;
    opendata_testkit::principal_with_key(
        &mut identity,
        "opm",
        Role::Publisher,
        opendata_proto::governance::v1::KeyKind::ApiKey,
    )
    .await;

    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    sqlx::query("ALTER TABLE governance.outbox RENAME TO outbox_lost")
        .execute(&pool)
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), running.child.wait())
        .await
        .expect("opendata up exits once a service has died")
        .unwrap();
    assert!(!status.success(), "a dead service is a failure: {status:?}");
    pool.close().await;
    database.drop_all().await;
}

/// The status the service at `url` reports for the whole server, once it answers.
async fn status_of(url: &str) -> ServingStatus {
    wait_until(
        EVENTUALLY,
        "the service to answer its health check",
        || async {
            let channel = opendata_platform::channels::channel(url).ok()?;
            let response = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .ok()?;
            Some(response.get_ref().status())
        },
    )
    .await
}

#[tokio::test]
async fn search_is_not_serving_until_its_index_is_built() {
    let database = TestDatabase::create().await;
    let bus = opendata_platform::events::EventBus::connect(
        &opendata_platform::config::NatsConfig {
            url: opendata_testkit::nats_url(),
            prefix: database.prefix.clone(),
            ..Default::default()
        },
        "tests",
    )
    .await
    .unwrap();
    // The catalog it builds its index from does not answer.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let settings = opendata_search::config::SearchSettings {
        catalog_url: nowhere.clone(),
        governance_url: nowhere,
        incentives_url: String::new(),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = opendata_platform::shutdown::Shutdown::new();
    let search = tokio::spawn(opendata_search::serve(
        settings,
        bus,
        listener,
        shutdown.clone(),
        opendata_platform::grpc::Serving::plaintext(Duration::from_secs(1)),
    ));

    assert_eq!(status_of(&url).await, ServingStatus::NotServing);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status_of(&url).await,
        ServingStatus::NotServing,
        "still building"
    );
    shutdown.trigger();
    search.await.unwrap().unwrap();
    database.drop_all().await;
}
