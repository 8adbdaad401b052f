//! Recording, correcting and withdrawing awards: the history keeps every revision with who, when
//! and why; the validation rules name every broken field and store nothing; only DECD writes.

use opendata_platform::error::ErrorCode;
use opendata_proto::common::v1::Role;
use opendata_proto::incentives::v1 as pb;
use opendata_testkit::TestStack;

use super::{award, decd, record, violated_fields};
use crate::support::{api_error, key_for};

fn search_all() -> pb::SearchAwardsRequest {
    pb::SearchAwardsRequest::default()
}

#[tokio::test]
async fn corrections_keep_every_revision_with_who_when_and_why() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let recorded = record(
        &mut decd.client,
        award("Alliance Lending", "Putnam", 2017, 0, 6_000_000, "maa"),
    )
    .await;
    assert_eq!(recorded.revision, 1);
    assert_eq!(recorded.fields.as_ref().unwrap().loan_amount, "6000000.00");

    let mut corrected_fields = award(
        "Alliance Lending",
        "Putnam",
        2017,
        250_000,
        6_000_000,
        "maa",
    );
    corrected_fields.parent_company = "Alliance Holdings".into();
    let corrected = decd
        .client
        .correct_award(pb::CorrectAwardRequest {
            id: recorded.id.clone(),
            fields: Some(corrected_fields.clone()),
            reason: "the grant was left out".into(),
            expected_revision: 1,
        })
        .await
        .expect("correct")
        .into_inner();
    assert_eq!(corrected.revision, 2);
    assert_eq!(
        corrected.fields.as_ref().unwrap().total_assistance,
        "6250000.00"
    );

    // A correction made from a stale read is refused, naming the current revision.
    let stale = decd
        .client
        .correct_award(pb::CorrectAwardRequest {
            id: recorded.id.clone(),
            fields: Some(corrected_fields.clone()),
            reason: "again".into(),
            expected_revision: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);
    let error = api_error(&stale);
    assert_eq!(error.code, ErrorCode::AwardRevisionConflict);
    assert_eq!(error.details["revision"], "2");

    let history = decd
        .client
        .get_award_history(pb::GetAwardHistoryRequest {
            id: recorded.id.clone(),
        })
        .await
        .expect("history")
        .into_inner()
        .revisions;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].change, "recorded");
    assert_eq!(history[0].fields.as_ref().unwrap().grant_amount, "0.00");
    assert_eq!(history[1].change, "corrected");
    assert_eq!(history[1].reason, "the grant was left out");
    assert_eq!(
        history[1].fields.as_ref().unwrap().grant_amount,
        "250000.00"
    );
    assert_eq!(
        history[1].fields.as_ref().unwrap().parent_company,
        "Alliance Holdings"
    );
    assert!(!history[1].actor_id.is_empty());
    assert!(history[1].at.is_some());

    // Withdrawn: kept with its history, out of searches, closed to changes.
    let withdrawn = decd
        .client
        .withdraw_award(pb::WithdrawAwardRequest {
            id: recorded.id.clone(),
            reason: "recorded twice".into(),
        })
        .await
        .expect("withdraw")
        .into_inner();
    assert!(withdrawn.withdrawn);
    assert_eq!(withdrawn.revision, 3);
    assert_eq!(withdrawn.withdrawn_reason, "recorded twice");
    let refused = decd
        .client
        .correct_award(pb::CorrectAwardRequest {
            id: recorded.id.clone(),
            fields: Some(corrected_fields),
            reason: "late fix".into(),
            expected_revision: 3,
        })
        .await
        .unwrap_err();
    assert_eq!(api_error(&refused).code, ErrorCode::AwardWithdrawn);
    let found = decd
        .client
        .search_awards(search_all())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.total, 0);
    let still = decd
        .client
        .get_award(pb::GetAwardRequest {
            id: recorded.id.clone(),
        })
        .await
        .expect("a withdrawn award is still readable")
        .into_inner();
    assert!(still.withdrawn);

    // The history cannot be rewritten, not even by the service's own role.
    for statement in [
        "UPDATE incentives.award_revisions SET reason = 'nothing happened'",
        "DELETE FROM incentives.award_revisions",
        "TRUNCATE incentives.award_revisions",
    ] {
        let error = sqlx::query(statement)
            .execute(&stack.pool)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn bad_awards_name_every_field_and_store_nothing() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let mut bad = award(
        "Acme Widgets",
        "Hartford",
        2018,
        100,
        200,
        "no-such-program",
    );
    bad.loan_amount = "-200".into();
    bad.total_assistance = "-300".into();
    bad.naics_code = "33".repeat(4);
    bad.contract_execution_date = "2017-02-30".into();
    let status = decd
        .client
        .record_award(pb::RecordAwardRequest { fields: Some(bad) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "fields.naics_code",
            "fields.contract_execution_date",
            "fields.loan_amount",
            "fields.total_assistance",
            "fields.program_id",
        ]
    );
    assert!(
        status
            .message()
            .contains("fields.loan_amount: must not be negative"),
        "{}",
        status.message()
    );

    // A total other than grant + loan is accepted with a stated reason, which is kept.
    let mut explained = award("Acme Widgets", "Hartford", 2018, 100, 200, "maa");
    explained.total_assistance = "1300".into();
    explained.total_mismatch_reason = "includes a $1,000 tax credit".into();
    let kept = record(&mut decd.client, explained).await;
    assert_eq!(
        kept.fields.as_ref().unwrap().total_mismatch_reason,
        "includes a $1,000 tax credit"
    );

    // A bad correction changes nothing.
    let mut wrong = award("Acme Widgets", "Hartford", 2018, 100, 200, "maa");
    wrong.jobs_target_date = "2016-01-01".into();
    let status = decd
        .client
        .correct_award(pb::CorrectAwardRequest {
            id: kept.id.clone(),
            fields: Some(wrong),
            reason: "fix".into(),
            expected_revision: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["fields.jobs_target_date"]);
    let missing_reason = decd
        .client
        .correct_award(pb::CorrectAwardRequest {
            id: kept.id.clone(),
            fields: Some(award("Acme Widgets", "Hartford", 2018, 100, 200, "maa")),
            reason: " ".into(),
            expected_revision: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&missing_reason), ["reason"]);
    let unchanged = decd
        .client
        .get_award(pb::GetAwardRequest {
            id: kept.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.revision, 1);

    // A batch with one bad award records none of them.
    let batch = pb::RecordAwardsRequest {
        awards: vec![
            pb::NewAward {
                fields: Some(award("First Co", "Enfield", 2019, 10, 0, "maa")),
                reviews: vec![],
            },
            pb::NewAward {
                fields: Some(pb::AwardFields {
                    naics_code: "1".into(),
                    ..award("Second Co", "Enfield", 2019, 10, 0, "maa")
                }),
                reviews: vec![pb::JobReview {
                    reviewed_on: "2099-01-01".into(),
                    actual_jobs: 3,
                    notes: String::new(),
                }],
            },
        ],
    };
    let status = decd.client.record_awards(batch).await.unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["awards[1].fields.naics_code"],
        "field errors come first; reviews are checked once the award parses"
    );
    let total = decd
        .client
        .search_awards(pb::SearchAwardsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total;
    assert_eq!(total, 1, "only the explained award is stored");

    let unknown = decd
        .client
        .get_award(pb::GetAwardRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(api_error(&unknown).code, ErrorCode::AwardNotFound);
    let malformed = decd
        .client
        .get_award(pb::GetAwardRequest { id: "42".into() })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&malformed), ["id"]);
    stack.stop().await;
}

#[tokio::test]
async fn only_decd_records_awards_and_everyone_reads_them() {
    let stack = TestStack::start().await;
    decd(&stack).await;
    let decd_publisher = key_for(&stack, "decd", Role::Publisher).await;
    let mut refused = vec![
        ("cdo", stack.cdo_key().await),
        ("admin", stack.admin_key.clone()),
        ("panel", key_for(&stack, "cdo", Role::Panel).await),
        ("opm ado", key_for(&stack, "opm", Role::Ado).await),
        (
            "opm publisher",
            key_for(&stack, "opm", Role::Publisher).await,
        ),
    ];
    for (who, key) in refused.drain(..) {
        let mut client = stack.clients(Some(&key)).incentives;
        let status = client
            .record_award(pb::RecordAwardRequest {
                fields: Some(award("Nope Inc", "Hartford", 2018, 1, 0, "maa")),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{who}");
        let status = client
            .upsert_program(pb::Program {
                id: "x".into(),
                name: "X".into(),
                administering_agency: "decd".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{who}");
    }
    let mut anonymous = stack.clients(None).incentives;
    let status = anonymous
        .record_award(pb::RecordAwardRequest {
            fields: Some(award("Nope Inc", "Hartford", 2018, 1, 0, "maa")),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let mut publisher = stack.clients(Some(&decd_publisher)).incentives;
    let recorded = record(
        &mut publisher,
        award("Yes Inc", "Hartford", 2018, 1, 0, "maa"),
    )
    .await;
    let read = anonymous
        .get_award(pb::GetAwardRequest { id: recorded.id })
        .await
        .expect("the public reads awards")
        .into_inner();
    assert_eq!(read.fields.unwrap().company, "Yes Inc");
    let programs = anonymous
        .list_programs(pb::ListProgramsRequest {})
        .await
        .unwrap()
        .into_inner()
        .programs;
    assert_eq!(programs.len(), 3);
    stack.stop().await;
}
