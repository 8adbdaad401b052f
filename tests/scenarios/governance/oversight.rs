//! Freshness (a published dataset turns stale exactly when the clock passes due + grace, and is
//! announced once) and the audit log (every identity change recorded, readable by the CDO and the
//! panel only, exportable as CSV, and impossible to alter).

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use opendata_platform::timestamp::from_proto;
use opendata_proto::common::v1::Role;
use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::FreshnessStatus;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestStack, principal_with_key, wait_until};
use tokio_stream::StreamExt as _;

use super::{dataset, review};
use crate::support::{EVENTUALLY, get, key_for, push};

fn time(t: &Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.as_ref().and_then(from_proto)
}

async fn freshness(stack: &TestStack, key: &str, id: &str) -> governance::Freshness {
    stack
        .clients(Some(key))
        .freshness
        .get_freshness(governance::GetFreshnessRequest {
            dataset_id: id.to_owned(),
        })
        .await
        .expect("freshness")
        .into_inner()
}

async fn stale_ids(
    stack: &TestStack,
    key: &str,
    agency: &str,
) -> Result<Vec<String>, tonic::Status> {
    Ok(stack
        .clients(Some(key))
        .freshness
        .list_stale(governance::ListStaleRequest {
            agency_id: agency.to_owned(),
        })
        .await?
        .into_inner()
        .datasets
        .into_iter()
        .map(|d| d.dataset_id)
        .collect())
}

async fn stale_announcements(stack: &TestStack, id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM governance.audit_log WHERE action = 'dataset.stale' AND subject = $1",
    )
    .bind(format!("dataset:{id}"))
    .fetch_one(&stack.pool)
    .await
    .expect("count announcements")
}

#[tokio::test]
async fn a_dataset_turns_stale_exactly_after_due_plus_grace_and_is_announced_once() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let other_ado = key_for(&stack, "decd", Role::Ado).await;
    let cdo = stack.cdo_key().await;
    let id = dataset(&stack, &publisher, "opm", "Monthly Revenue").await;
    push(
        &stack,
        &publisher,
        &id,
        UploadMode::Replace,
        b"Town\nAvon\n",
    )
    .await;
    stack.publish(&id).await;

    let current = wait_until(
        EVENTUALLY,
        "the data update to reach governance",
        || async {
            let f = freshness(&stack, &ado, &id).await;
            f.last_updated_at.is_some().then_some(f)
        },
    )
    .await;
    assert_eq!(current.status(), FreshnessStatus::Current);
    assert_eq!(current.accrual_periodicity, "R/P1M");
    let last = time(&current.last_updated_at).unwrap();
    let due = time(&current.due_at).unwrap();
    assert_eq!(Some(due), last.checked_add_months(chrono::Months::new(1)));
    // The grace is 25% of the period, at least a day.
    let grace = ((due - last) * 25 / 100).max(Duration::days(1));

    stack.clock.set(due + grace);
    assert_eq!(
        freshness(&stack, &ado, &id).await.status(),
        FreshnessStatus::Due
    );
    assert!(stale_ids(&stack, &cdo, "").await.unwrap().is_empty());
    stack.clock.set(due + grace + Duration::seconds(1));
    assert_eq!(
        freshness(&stack, &ado, &id).await.status(),
        FreshnessStatus::Stale
    );
    let only = vec![id.clone()];
    assert_eq!(stale_ids(&stack, &ado, "opm").await.unwrap(), only);
    assert_eq!(stale_ids(&stack, &cdo, "").await.unwrap(), only);
    assert_eq!(
        stale_ids(&stack, &ado, "").await.unwrap(),
        only,
        "an ADO's list is its agency's"
    );
    assert!(stale_ids(&stack, &other_ado, "").await.unwrap().is_empty());
    let denied = stale_ids(&stack, &other_ado, "opm").await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // The scheduled job announces it (event and audit entry), once.
    wait_until(EVENTUALLY, "the stale announcement", || async {
        (stale_announcements(&stack, &id).await == 1).then_some(())
    })
    .await;
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM governance.outbox WHERE subject = 'opendata.governance.v1.freshness.dataset_stale'",
    )
    .fetch_one(&stack.pool)
    .await
    .unwrap();
    assert_eq!(events, 1);
    // Another round of the jobs: the lapse is not announced again.
    stack.after_a_full_round("governance", "jobs").await;
    assert_eq!(
        stale_announcements(&stack, &id).await,
        1,
        "announced once per lapse"
    );

    // New data makes it current again.
    stack.clock.set(Utc::now());
    push(
        &stack,
        &publisher,
        &id,
        UploadMode::Replace,
        b"Town\nBristol\n",
    )
    .await;
    wait_until(EVENTUALLY, "the dataset to be current", || async {
        (freshness(&stack, &ado, &id).await.status() == FreshnessStatus::Current).then_some(())
    })
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn the_audit_log_records_identity_changes_and_cannot_be_altered() {
    let stack = TestStack::start().await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let issued = principal_with_key(
        &mut admin,
        "opm",
        Role::Publisher,
        governance::KeyKind::ApiKey,
    )
    .await;
    admin
        .revoke_key(governance::RevokeKeyRequest {
            key_id: issued.key_id.clone(),
        })
        .await
        .expect("revoke");
    let cdo = stack.cdo_key().await;
    let panel = key_for(&stack, "opm", Role::Panel).await;
    // A workflow transition too, so both append-only tables hold rows.
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let id = dataset(&stack, &publisher, "opm", "Audited").await;
    review(&stack, &cdo)
        .nominate(super::nomination(&id))
        .await
        .expect("nominate");

    let entries = stack
        .clients(Some(&panel))
        .audit
        .list_audit_entries(governance::ListAuditEntriesRequest::default())
        .await
        .expect("the panel reads the log")
        .into_inner()
        .entries;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "agency.created",
        "principal.created",
        "key.issued",
        "key.revoked",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let revoked = entries.iter().find(|e| e.action == "key.revoked").unwrap();
    assert_eq!(revoked.subject, format!("key:{}", issued.key_id));
    assert!(revoked.details_json.contains(&issued.principal_id));
    assert!(
        entries.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );

    for role in [Role::Admin, Role::Ado, Role::Publisher] {
        let key = key_for(&stack, "opm", role).await;
        let status = stack
            .clients(Some(&key))
            .audit
            .list_audit_entries(governance::ListAuditEntriesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{role:?}");
    }

    // The CSV export holds every entry.
    let mut chunks = stack
        .clients(Some(&cdo))
        .audit
        .export_audit_log(governance::ExportAuditLogRequest {})
        .await
        .expect("export")
        .into_inner();
    let mut csv_bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        csv_bytes.extend_from_slice(&chunk.expect("chunk").data);
    }
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "id", "at", "actor_id", "action", "subject", "reason", "details"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM governance.audit_log")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(rows.len() as i64, total);
    assert!(rows.iter().any(|r| &r[3] == "key.revoked"));

    // The service's database role can neither change nor remove entries.
    for statement in [
        "UPDATE governance.audit_log SET reason = 'edited'",
        "DELETE FROM governance.audit_log",
        "TRUNCATE governance.audit_log",
        "UPDATE governance.transitions SET reason = 'edited'",
        "DELETE FROM governance.transitions",
        "TRUNCATE governance.transitions",
    ] {
        let error = sqlx::query(statement)
            .execute(&stack.pool)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM governance.audit_log")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(after, total, "nothing was lost");
    stack.stop().await;
}

#[tokio::test]
async fn the_inventory_lists_every_record_with_state_and_freshness() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let cdo = stack.cdo_key().await;
    let published = dataset(&stack, &publisher, "opm", "Published One").await;
    let nominated = dataset(&stack, &publisher, "opm", "Nominated One").await;
    let untouched = dataset(&stack, &publisher, "opm", "Untouched One").await;
    stack.publish(&published).await;
    review(&stack, &ado)
        .nominate(super::nomination(&nominated))
        .await
        .expect("nominate");
    let records = wait_until(EVENTUALLY, "three inventory records", || async {
        let records = stack
            .clients(Some(&ado))
            .review
            .list_inventory(governance::ListInventoryRequest {
                agency_id: "opm".into(),
                states: Vec::new(),
            })
            .await
            .ok()?
            .into_inner()
            .records;
        (records.len() == 3).then_some(records)
    })
    .await;
    let state = |id: &str| {
        records
            .iter()
            .find(|r| r.dataset_id == id)
            .map(|r| (r.state(), r.title.clone(), r.freshness.is_some()))
    };
    assert_eq!(
        state(&published),
        Some((
            governance::ReviewState::Published,
            "Published One".into(),
            true
        ))
    );
    assert_eq!(
        state(&nominated).unwrap().0,
        governance::ReviewState::Nominated
    );
    assert_eq!(
        state(&untouched).unwrap().0,
        governance::ReviewState::Inventoried
    );

    let only_published = stack
        .clients(Some(&cdo))
        .review
        .list_inventory(governance::ListInventoryRequest {
            agency_id: String::new(),
            states: vec![governance::ReviewState::Published as i32],
        })
        .await
        .expect("list")
        .into_inner()
        .records;
    assert_eq!(only_published.len(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn an_old_extract_counts_from_its_own_date() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let id = dataset(&stack, &publisher, "opm", "Claims FY 2013-14").await;
    let as_of = Utc.with_ymd_and_hms(2015, 6, 30, 0, 0, 0).unwrap();
    let upload = stack
        .clients(Some(&publisher))
        .ingestion
        .create_upload(opendata_proto::ingestion::v1::CreateUploadRequest {
            dataset_id: id.clone(),
            mode: UploadMode::Replace as i32,
            data_as_of: Some(opendata_platform::timestamp::to_proto(as_of)),
            ..Default::default()
        })
        .await
        .expect("upload")
        .into_inner();
    assert_eq!(time(&upload.data_as_of), Some(as_of));
    crate::support::send_file(&stack, &publisher, &upload.id, b"Town\nAvon\n", 64)
        .await
        .expect("send");
    crate::support::commit(&stack, &publisher, &upload.id)
        .await
        .expect("commit");
    let mut ado_review = review(&stack, &ado);
    let mut nomination = super::nomination(&id);
    nomination.accrual_periodicity = "annually".into();
    ado_review.nominate(nomination).await.expect("nominate");
    let stale = wait_until(
        EVENTUALLY,
        "the extract's date to reach governance",
        || async {
            let f = freshness(&stack, &ado, &id).await;
            (time(&f.last_updated_at) == Some(as_of)).then_some(f)
        },
    )
    .await;
    assert_eq!(stale.accrual_periodicity, "R/P1Y");
    assert_eq!(
        time(&stale.due_at),
        Some(Utc.with_ymd_and_hms(2016, 6, 30, 0, 0, 0).unwrap())
    );
    assert_eq!(stale.status(), FreshnessStatus::Stale);
    let view = get(&stack, &format!("/api/views/{id}.json")).await;
    assert_eq!(view.status, 404, "not published, so not public");
    stack.stop().await;
}
