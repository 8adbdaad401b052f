//! The portal as managed PostgreSQL hosts it: the database belongs to a user that is not a
//! superuser. Every service migrates its own schema, the catalog makes itself a member of the
//! reader role its row queries run as, and a pushed dataset reads back through the edge.

use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestOptions, TestStack};

use crate::support::*;

#[tokio::test]
async fn a_database_owner_that_is_not_a_superuser_is_enough() {
    let stack = TestStack::start_with(TestOptions {
        unprivileged_database_owner: true,
        ..TestOptions::default()
    })
    .await;
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert!(!superuser, "the stack connects as the unprivileged owner");

    let (key, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        b"Town\nAvon\nBristol\n",
    )
    .await;
    wait_for_version(&stack, &dataset, 1).await;
    let response = get(&stack, &format!("/resource/{dataset}.json?$order=town")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.json(),
        serde_json::json!([{"town": "Avon"}, {"town": "Bristol"}])
    );
}
