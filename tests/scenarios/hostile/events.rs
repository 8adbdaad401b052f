//! An event the bus refuses for good (over the size limit, an invalid subject) is set aside with
//! its reason instead of blocking the events behind it: a publication that follows it still
//! reaches the public, and `/readyz` says events were set aside.

use opendata_limits::EVENT_BYTES;
use opendata_proto::common::v1::{ColumnType, Role};
use opendata_testkit::{TestStack, wait_until};

use crate::support::*;

/// Puts an event straight into governance's outbox, ahead of anything written after it.
async fn enqueue_raw(stack: &TestStack, subject: &str, payload: Vec<u8>) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    sqlx::query("INSERT INTO governance.outbox (id, subject, payload) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(subject)
        .bind(payload)
        .execute(&stack.pool)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn events_the_bus_refuses_are_set_aside_and_the_rest_flow() {
    let stack = TestStack::start().await;
    let key = key_for(&stack, "opm", Role::Publisher).await;
    let dataset = create_dataset(
        &stack,
        &key,
        "opm",
        vec![column("Town", ColumnType::Text)],
        "",
    )
    .await;

    let oversized = enqueue_raw(
        &stack,
        "opendata.governance.v1.review.dataset_published",
        vec![b'x'; 2 * EVENT_BYTES.get()],
    )
    .await;
    let bad_subject = enqueue_raw(&stack, "opendata.governance.v1..broken", vec![1, 2, 3]).await;

    // The publication's events queue behind both, and still reach the catalog.
    publish(&stack, &dataset).await;

    let set_aside: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("SELECT id, reason FROM governance.outbox_dead_letters ORDER BY id")
            .fetch_all(&stack.pool)
            .await
            .unwrap();
    let reason_of = |id| {
        set_aside
            .iter()
            .find(|(set_aside_id, _)| *set_aside_id == id)
            .map(|(_, reason)| reason.clone())
            .unwrap_or_else(|| panic!("{id} was not set aside: {set_aside:?}"))
    };
    assert!(reason_of(oversized).contains(EVENT_BYTES.name));
    assert!(reason_of(bad_subject).contains("not a valid subject"));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM governance.outbox WHERE id = ANY($1)")
        .bind(vec![oversized, bad_subject])
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "set-aside events leave the outbox");

    wait_until(
        EVENTUALLY,
        "readyz to report the set-aside events",
        || async {
            let ready = get(&stack, "/readyz").await;
            let body = ready.json();
            (ready.status == 200 && body["events"]["governance"].is_string()).then_some(())
        },
    )
    .await;
}
