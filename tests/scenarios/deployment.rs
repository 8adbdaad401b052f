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

/// `opendata check` (what `helm test` runs) passes against a running portal and names what fails
/// against one that is not there.
#[tokio::test]
async fn opendata_check_passes_on_a_running_portal_and_names_what_fails() {
    let database = opendata_testkit::TestDatabase::create().await;
    let admin_key = format!("odk_check_{}", database.prefix);
    let binary = opendata_testkit::binary("debug");
    let server = opendata_testkit::ServerProcess::start(&binary, &database, &admin_key, &[]).await;
    let run = |edge: String, governance: String| {
        let binary = binary.clone();
        let urls: Vec<(String, String)> = ["catalog", "ingestion", "search", "incentives"]
            .iter()
            .map(|name| (format!("--{name}-url"), server.url(name).to_owned()))
            .collect();
        async move {
            let mut command = tokio::process::Command::new(binary);
            command
                .args([
                    "check",
                    "--edge-url",
                    &edge,
                    "--governance-url",
                    &governance,
                ])
                .args(["--grpc", "governance,catalog,ingestion,search,incentives"]);
            for (flag, url) in urls {
                command.args([flag, url]);
            }
            command.output().await.unwrap()
        }
    };
    // Search reports serving once its index is built.
    let passed = opendata_testkit::wait_until(
        std::time::Duration::from_secs(30),
        "opendata check passes",
        || {
            let run = run(
                server.url("edge").to_owned(),
                server.url("governance").to_owned(),
            );
            async move {
                let output = run.await;
                output.status.success().then_some(output)
            }
        },
    )
    .await;
    let printed = String::from_utf8_lossy(&passed.stdout);
    assert_eq!(
        printed.lines().filter(|l| l.starts_with("ok")).count(),
        7,
        "{printed}"
    );

    let failed = run(
        server.url("edge").to_owned(),
        "http://127.0.0.1:1".to_owned(),
    )
    .await;
    assert!(!failed.status.success());
    let printed = String::from_utf8_lossy(&failed.stdout);
    assert!(
        printed.contains("FAIL  governance grpc health"),
        "{printed}"
    );
    assert!(printed.contains("ok    catalog grpc health"), "{printed}");
    database.drop_all().await;
}
