//! Retention and purging: replaced versions stay readable as long as their dataset's policy says
//! (the service's default, or the dataset's own, set by its ADO or the CDO), and a version
//! published by mistake can be purged at once, its rows and rejected values gone and the reason
//! shown in the version history.

use opendata_platform::error::ErrorCode;
use opendata_proto::common::v1::Role;
use opendata_proto::ingestion::v1 as ingestion;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::wait_until;

use crate::support::*;

#[tokio::test]
async fn the_policy_keeps_versions_and_a_purge_takes_one_at_once() {
    // The service's default here: every version for a year, and always the newest ten.
    let stack = keeping_versions().await;
    let (publisher, dataset) = amounts_by_town(&stack).await;
    let file = amounts_file;
    push(
        &stack,
        &publisher,
        &dataset,
        UploadMode::Replace,
        &file("Avon,1\nBristol,2\n"),
    )
    .await;
    // Version 2 carries a rejected value (kept with its upload's report until purged).
    let upload = create_upload(&stack, &publisher, &dataset, UploadMode::Upsert, 0.5)
        .await
        .unwrap();
    send_file(
        &stack,
        &publisher,
        &upload.id,
        &file("Bristol,20\nCanton,42 Elm Street\n"),
        7,
    )
    .await
    .unwrap();
    commit(&stack, &publisher, &upload.id).await.unwrap();
    push(
        &stack,
        &publisher,
        &dataset,
        UploadMode::Upsert,
        &file("Bristol,30\nCanton,3\n"),
    )
    .await;
    push(
        &stack,
        &publisher,
        &dataset,
        UploadMode::Upsert,
        &file("Bristol,200\n"),
    )
    .await;
    wait_for_version(&stack, &dataset, 4).await;
    stack.after_a_full_round("ingestion", "janitor").await;

    let ingestion_as = |key: &str| stack.clients(Some(key)).ingestion;
    let retention = ingestion_as(&publisher)
        .get_retention(ingestion::GetRetentionRequest {
            dataset_id: dataset.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            retention.keep_days,
            retention.keep_versions,
            retention.is_default
        ),
        (365, 10, true)
    );
    let read = |version: i64| {
        let stack = &stack;
        let dataset = &dataset;
        async move {
            get(
                stack,
                &format!("/resource/{dataset}.json?$version={version}&$order=town"),
            )
            .await
        }
    };
    assert_eq!(read(1).await.status, 200, "the default keeps version 1");

    // Who may purge, and what.
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let other_ado = key_for(&stack, "dot", Role::Ado).await;
    let purge = |key: &str, version: i64, reason: &str| {
        let mut client = stack.clients(Some(key)).ingestion;
        let request = ingestion::PurgeVersionRequest {
            dataset_id: dataset.clone(),
            version,
            reason: reason.to_owned(),
        };
        async move { client.purge_version(request).await }
    };
    let refused = purge(&publisher, 2, "a home address").await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let refused = purge(&other_ado, 2, "a home address").await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("only for its own agency"),
        "{refused:?}"
    );
    let refused = purge(&ado, 2, "  ").await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("say why"), "{refused:?}");
    let refused = purge(&ado, 2, &"x".repeat(201)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        api_error(&refused).details.get("limit").map(String::as_str),
        Some("text_name")
    );
    let refused = purge(&ado, 4, "a home address").await.unwrap_err();
    assert_eq!(api_error(&refused).code, ErrorCode::VersionStateConflict);
    assert!(
        refused.message().contains("is the current version"),
        "{refused:?}"
    );
    let refused = purge(&ado, 9, "a home address").await.unwrap_err();
    assert_eq!(api_error(&refused).code, ErrorCode::VersionNotFound);
    assert!(
        refused.message().contains("has no version 9"),
        "{refused:?}"
    );

    let purged = purge(&ado, 2, "a home address in the Canton row")
        .await
        .unwrap()
        .into_inner();
    assert_eq!((purged.version, purged.rejections_deleted), (2, 1));
    let again = purge(&ado, 2, "a home address").await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    assert!(again.message().contains("already purged"), "{again:?}");

    // Only the row version 2 alone held went (Bristol,20); every other version reads as before.
    assert_eq!(
        generation_rows(&stack, &dataset, 1).await,
        vec![
            generation_row("Avon", "1", 1, None),
            generation_row("Bristol", "2", 1, Some(2)),
            generation_row("Bristol", "30", 3, Some(4)),
            generation_row("Bristol", "200", 4, None),
            generation_row("Canton", "3", 3, None),
        ]
    );
    let refused = read(2).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let error = refused.json();
    assert_eq!(error["data"]["parameter"], "$version", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("was purged on")
            && error["message"]
                .as_str()
                .unwrap()
                .contains("a home address in the Canton row"),
        "{error}"
    );
    let amounts = |version: i64| async move {
        read(version)
            .await
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                format!(
                    "{}={}",
                    row["town"].as_str().unwrap(),
                    row["amount"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(amounts(1).await, ["Avon=1", "Bristol=2"]);
    assert_eq!(amounts(3).await, ["Avon=1", "Bristol=30", "Canton=3"]);
    let rejections = ingestion_as(&publisher)
        .list_rejections(ingestion::ListRejectionsRequest {
            upload_id: upload.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        rejections.rejections.is_empty(),
        "the rejected value went too"
    );
    let history = wait_until(EVENTUALLY, "the purge in the version history", || {
        let stack = &stack;
        let dataset = &dataset;
        async move {
            let history = get(stack, &format!("/api/views/{dataset}/versions"))
                .await
                .json();
            history["versions"][2]["purged"]
                .is_object()
                .then_some(history)
        }
    })
    .await;
    let second = &history["versions"][2];
    assert_eq!(second["version"], 2);
    assert_eq!(second["kept"], false);
    assert_eq!(
        second["purged"]["reason"], "a home address in the Canton row",
        "{second}"
    );
    assert_eq!(second["purged"]["by"], "opm role_ado", "{second}");
    assert!(history["versions"][1]["purged"].is_null(), "{history}");

    // The dataset's own policy: the newest two, and others for a year after they were replaced.
    let set = |key: &str, keep_days: Option<u32>, keep_versions: Option<u32>, use_default: bool| {
        let mut client = stack.clients(Some(key)).ingestion;
        let request = ingestion::SetRetentionRequest {
            dataset_id: dataset.clone(),
            keep_days,
            keep_versions,
            use_default,
        };
        async move { client.set_retention(request).await }
    };
    let refused = set(&publisher, None, Some(2), false).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    for (days, versions, field) in [
        (None, Some(0), "keep_versions"),
        (Some(36_501), None, "keep_days"),
    ] {
        let refused = set(&ado, days, versions, false).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(refused.message().contains(field), "{refused:?}");
        assert_eq!(
            api_error(&refused).details.get("limit").map(String::as_str),
            Some(format!("retention_{}", &field[5..]).as_str()),
            "{refused:?}"
        );
    }
    // Only the number given changes; the days stay the default's.
    let own = set(&ado, None, Some(2), false).await.unwrap().into_inner();
    assert_eq!(
        (own.keep_days, own.keep_versions, own.is_default),
        (365, 2, false)
    );
    assert!(!own.set_by.is_empty() && own.set_at.is_some());
    stack.after_a_full_round("ingestion", "janitor").await;
    assert_eq!(
        read(1).await.status,
        200,
        "replaced today: the days keep it"
    );
    // A year and a day later (moved back in the database), the days no longer keep it.
    sqlx::query(
        "UPDATE ingestion.versions SET retired_at = now() - interval '366 days' \
         WHERE dataset_id = $1 AND version = 1",
    )
    .bind(&dataset)
    .execute(&stack.pool)
    .await
    .unwrap();
    wait_until(
        EVENTUALLY,
        "version 1 past the dataset's retention",
        || async { (read(1).await.status == 400).then_some(()) },
    )
    .await;
    assert_eq!(
        amounts(3).await,
        ["Avon=1", "Bristol=30", "Canton=3"],
        "the newest two stay"
    );
    assert_eq!(
        generation_rows(&stack, &dataset, 1).await,
        vec![
            generation_row("Avon", "1", 1, None),
            generation_row("Bristol", "30", 3, Some(4)),
            generation_row("Bristol", "200", 4, None),
            generation_row("Canton", "3", 3, None),
        ]
    );
    let back = set(&stack.cdo_key().await, None, None, true)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (back.keep_days, back.keep_versions, back.is_default),
        (365, 10, true)
    );
    stack.stop().await;
}

#[tokio::test]
async fn purging_the_last_version_of_a_replaced_generation_takes_its_rows() {
    let stack = keeping_versions().await;
    let (publisher, dataset) = amounts_by_town(&stack).await;
    push_amounts(
        &stack,
        &publisher,
        &dataset,
        &[
            (
                UploadMode::Replace,
                "Avon,1
Bristol,2
",
            ),
            (
                UploadMode::Append,
                "Canton,3
",
            ),
            (
                UploadMode::Replace,
                "Darien,4
",
            ),
        ],
    )
    .await;
    wait_for_version(&stack, &dataset, 3).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let purge = |version: i64| {
        let mut client = stack.clients(Some(&ado)).ingestion;
        let request = ingestion::PurgeVersionRequest {
            dataset_id: dataset.clone(),
            version,
            reason: "a wrong file".to_owned(),
        };
        async move { client.purge_version(request).await }
    };
    // Once ingestion has learned the catalog serves version 3.
    wait_until(EVENTUALLY, "version 2 purged", || async {
        purge(2).await.ok()
    })
    .await;
    // Canton was live in generation 1 until the replace: version 2 alone held it.
    assert_eq!(
        generation_rows(&stack, &dataset, 1).await,
        vec![
            generation_row("Avon", "1", 1, None),
            generation_row("Bristol", "2", 1, None)
        ]
    );
    let first = get(
        &stack,
        &format!("/resource/{dataset}.json?$version=1&$order=town"),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json().as_array().unwrap().len(), 2);
    // The last kept version of generation 1 goes with the generation.
    purge(1).await.unwrap();
    let table = format!("ds_{}_g1", dataset.replace('-', "_"));
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('data.' || quote_ident($1)) IS NOT NULL")
            .bind(&table)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert!(!exists, "generation 1 is dropped");
    stack.stop().await;
}
