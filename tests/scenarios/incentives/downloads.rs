//! Downloads of the award table share a few places, one caller takes one at a time, and each has
//! a time: past them, a download is refused with 503 (or 429) naming the limit, or ends with a
//! timeout naming it, and its place is free again at once.
//!
//! A download is held up deterministically by locking the awards table: its first batch waits
//! for the lock, holding its place, for as long as the test wants.

use opendata_limits::{AWARD_EXPORT_SECONDS, AWARD_EXPORTS, AWARD_EXPORTS_PER_CALLER};
use opendata_platform::error::ErrorCode;
use opendata_proto::incentives::v1 as pb;
use opendata_testkit::{TestOptions, TestStack};

use super::{award, decd, record};
use crate::support::{api_error, get};

#[tokio::test]
async fn award_downloads_take_turns_and_end_on_time() {
    let stack = TestStack::start_with(TestOptions {
        award_exports: Some((2, 3)),
        ..TestOptions::default()
    })
    .await;
    let mut decd = decd(&stack).await;
    record(
        &mut decd.client,
        award("Acme Gears", "Hartford", 2020, 100_000, 0, "maa"),
    )
    .await;

    let mut lock = stack.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE incentives.awards IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    // One download from the edge takes a place and is the most one address streams at once.
    let url = format!("{}/api/incentives/awards.csv", stack.edge_url());
    let streaming = reqwest::get(&url).await.unwrap();
    assert_eq!(streaming.status(), 200);
    let response = get(&stack, "/api/incentives/awards.csv").await;
    assert_eq!(response.status, 429, "{}", response.body);
    assert_eq!(
        response.json()["data"]["limit"],
        AWARD_EXPORTS_PER_CALLER.name
    );

    // The other place goes to a gRPC caller; past that, everyone is told to come back.
    let mut public = stack.clients(None).incentives;
    let mut first = public
        .export_awards(pb::SearchAwardsRequest::default())
        .await
        .expect("the second download starts")
        .into_inner();
    let refused = public
        .export_awards(pb::SearchAwardsRequest::default())
        .await
        .expect_err("every place is taken");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    let error = api_error(&refused);
    assert_eq!(error.code, ErrorCode::Unavailable);
    assert_eq!(error.details["limit"], AWARD_EXPORTS.name);
    drop(streaming);

    // Past its time, the first download ends with an error naming it.
    let ended = first
        .message()
        .await
        .expect_err("the download ran out of time");
    assert_eq!(ended.code(), tonic::Code::DeadlineExceeded, "{ended:?}");
    assert_eq!(
        api_error(&ended).details["limit"],
        AWARD_EXPORT_SECONDS.name
    );
    lock.commit().await.unwrap();

    // Its place is free again.
    let mut next = public
        .export_awards(pb::SearchAwardsRequest::default())
        .await
        .expect("a place is free")
        .into_inner();
    let mut companies = Vec::new();
    while let Some(chunk) = next.message().await.unwrap() {
        companies.extend(
            chunk
                .awards
                .into_iter()
                .filter_map(|award| award.fields.map(|fields| fields.company)),
        );
    }
    assert_eq!(companies, ["Acme Gears"]);
}
