//! Job obligations over time: pending until the target date, past due after it without a review,
//! not met when a later review falls short, met once a review counts the jobs promised; the
//! clock is the stack's, moved by the test.

use chrono::{Duration, NaiveDate};
use opendata_platform::clock::Clock as _;
use opendata_proto::incentives::v1 as pb;
use opendata_proto::incentives::v1::ObligationStatus;
use opendata_testkit::TestStack;

use super::{Client, award, decd, record, violated_fields};

async fn review(client: &mut Client, id: &str, on: NaiveDate, jobs: i64) -> pb::Award {
    client
        .add_job_review(pb::AddJobReviewRequest {
            id: id.to_owned(),
            review: Some(pb::JobReview {
                reviewed_on: on.to_string(),
                actual_jobs: jobs,
                notes: "site visit".into(),
            }),
        })
        .await
        .expect("add a review")
        .into_inner()
}

async fn status_of(client: &mut Client, id: &str) -> (ObligationStatus, bool) {
    let award = client
        .get_award(pb::GetAwardRequest { id: id.to_owned() })
        .await
        .expect("read the award")
        .into_inner();
    (award.obligation_status(), award.penalty_flag)
}

#[tokio::test]
async fn obligations_follow_reviews_and_the_calendar() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let today = stack.clock.now().date_naive();
    let target = today + Duration::days(30);
    let mut fields = award("Precision Gears", "Bristol", 2025, 0, 1_000_000, "maa");
    fields.contract_execution_date = (today - Duration::days(400)).to_string();
    fields.jobs_to_retain = 60;
    fields.jobs_to_create = 40;
    fields.jobs_target_date = target.to_string();
    let id = record(&mut decd.client, fields).await.id;
    assert_eq!(
        status_of(&mut decd.client, &id).await,
        (ObligationStatus::Pending, false)
    );

    // A short review before the target date leaves it pending.
    let reviewed = review(&mut decd.client, &id, today, 50).await;
    assert_eq!(reviewed.obligation_status(), ObligationStatus::Pending);
    assert_eq!(reviewed.revision, 2);

    // The target date passes with no review since: past due, exactly the day after.
    stack.clock.advance(Duration::days(30));
    assert_eq!(
        status_of(&mut decd.client, &id).await.0,
        ObligationStatus::Pending
    );
    stack.clock.advance(Duration::days(1));
    assert_eq!(
        status_of(&mut decd.client, &id).await.0,
        ObligationStatus::PastDue
    );

    // A review after the target that falls short: not met, and a penalty may apply.
    let now = stack.clock.now().date_naive();
    let short = review(&mut decd.client, &id, now, 80).await;
    assert_eq!(short.obligation_status(), ObligationStatus::NotMet);
    assert!(short.penalty_flag);

    // Reviews in the future or before the contract are refused; nothing changes.
    let future = decd
        .client
        .add_job_review(pb::AddJobReviewRequest {
            id: id.clone(),
            review: Some(pb::JobReview {
                reviewed_on: (now + Duration::days(1)).to_string(),
                actual_jobs: 100,
                notes: String::new(),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&future), ["review.reviewed_on"]);
    let early = decd
        .client
        .add_job_review(pb::AddJobReviewRequest {
            id: id.clone(),
            review: Some(pb::JobReview {
                reviewed_on: (today - Duration::days(500)).to_string(),
                actual_jobs: 100,
                notes: String::new(),
            }),
        })
        .await
        .unwrap_err();
    assert!(
        early
            .message()
            .contains("before the contract execution date"),
        "{}",
        early.message()
    );

    // The jobs are there at the next review: met.
    stack.clock.advance(Duration::days(60));
    let later = stack.clock.now().date_naive();
    let met = review(&mut decd.client, &id, later, 104).await;
    assert_eq!(met.obligation_status(), ObligationStatus::Met);
    assert!(!met.penalty_flag);
    assert_eq!(met.reviews.len(), 3);

    // Summaries compare promised with the latest review.
    let summary = decd
        .client
        .summarize_awards(pb::SummarizeAwardsRequest {
            group_by: vec![pb::SummaryDimension::Municipality as i32],
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.rows.len(), 1);
    assert_eq!(
        (summary.rows[0].jobs_promised, summary.rows[0].jobs_actual),
        (100, 104)
    );
    stack.stop().await;
}
