//! The review workflow: the happy path with its history and audit trail, every illegal transition
//! refused naming the current state, what is withheld and why as anyone may read it, and bad
//! requests naming the field.

use opendata_platform::error::ErrorCode;
use opendata_proto::common::v1::{AccessLevel, Role};
use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::ReviewState;
use opendata_testkit::{TestStack, wait_until};

use super::{dataset, nomination, review, step, withholding};
use crate::support::{EVENTUALLY, api_error, key_for};

#[tokio::test]
async fn a_dataset_goes_from_nomination_to_publication_with_its_history() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let cdo = stack.cdo_key().await;
    let id = dataset(&stack, &publisher, "opm", "Grand List Totals").await;

    let nominated = review(&stack, &ado)
        .nominate(nomination(&id))
        .await
        .expect("the ADO nominates")
        .into_inner();
    assert_eq!(nominated.state(), ReviewState::Nominated);
    assert_eq!(nominated.agency_id, "opm");
    assert_eq!(
        nominated.accrual_periodicity, "R/P1M",
        "monthly is stored as ISO 8601"
    );
    assert_eq!(nominated.justification, "residents ask for it");
    assert!(!nominated.public);

    let mut cdo_review = review(&stack, &cdo);
    cdo_review
        .start_review(step(&id, "looking"))
        .await
        .expect("start");
    cdo_review
        .approve(step(&id, "fine"))
        .await
        .expect("approve");
    let published = cdo_review
        .publish(step(&id, "go"))
        .await
        .expect("publish")
        .into_inner();
    assert_eq!(published.state(), ReviewState::Published);
    assert!(published.public);
    let path: Vec<(ReviewState, ReviewState, String)> = published
        .history
        .iter()
        .map(|t| (t.from_state(), t.to_state(), t.reason.clone()))
        .collect();
    assert_eq!(
        path,
        [
            (
                ReviewState::Inventoried,
                ReviewState::Nominated,
                "residents ask for it".to_owned()
            ),
            (
                ReviewState::Nominated,
                ReviewState::UnderReview,
                "looking".to_owned()
            ),
            (
                ReviewState::UnderReview,
                ReviewState::Approved,
                "fine".to_owned()
            ),
            (
                ReviewState::Approved,
                ReviewState::Published,
                "go".to_owned()
            ),
        ]
    );
    assert!(published.revision >= 4);
    stack.wait_public(&id, true).await;

    // Every transition left an audit entry naming who did it.
    let entries = stack
        .clients(Some(&cdo))
        .audit
        .list_audit_entries(governance::ListAuditEntriesRequest {
            subject: format!("dataset:{id}"),
            page_size: 0,
            before_id: 0,
        })
        .await
        .expect("audit")
        .into_inner()
        .entries;
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "dataset.nominate",
            "dataset.start_review",
            "dataset.approve",
            "dataset.publish"
        ]
    );
    assert_eq!(
        entries.last().unwrap().actor_id,
        nominated.history[0].actor_id
    );
    assert_ne!(
        entries[0].actor_id,
        entries.last().unwrap().actor_id,
        "CDO vs ADO"
    );
    stack.stop().await;
}

#[tokio::test]
async fn illegal_transitions_are_refused_naming_the_current_state() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let cdo = stack.cdo_key().await;
    let mut cdo_review = review(&stack, &cdo);
    let id = dataset(&stack, &publisher, "opm", "Road Miles").await;

    let refused = |status: tonic::Status, state: &str| {
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        let error = api_error(&status);
        assert_eq!(error.code, ErrorCode::ReviewStateConflict);
        assert_eq!(error.details.get("state").map(String::as_str), Some(state));
        assert!(error.message.contains(state), "{}", error.message);
    };
    // From inventoried: only nominate or withhold.
    for status in [
        cdo_review.start_review(step(&id, "")).await.unwrap_err(),
        cdo_review.approve(step(&id, "")).await.unwrap_err(),
        cdo_review.publish(step(&id, "")).await.unwrap_err(),
        cdo_review.reopen(step(&id, "")).await.unwrap_err(),
        cdo_review
            .retire(governance::RetireRequest {
                dataset_id: id.clone(),
                reason: "old".into(),
                successor_dataset_id: String::new(),
            })
            .await
            .unwrap_err(),
    ] {
        refused(status, "inventoried");
    }
    cdo_review
        .nominate(nomination(&id))
        .await
        .expect("nominate");
    refused(
        cdo_review.nominate(nomination(&id)).await.unwrap_err(),
        "nominated",
    );
    refused(
        cdo_review.publish(step(&id, "")).await.unwrap_err(),
        "nominated",
    );
    cdo_review.start_review(step(&id, "")).await.expect("start");
    refused(
        cdo_review.publish(step(&id, "")).await.unwrap_err(),
        "under_review",
    );
    cdo_review
        .withhold(withholding(&id))
        .await
        .expect("withhold");
    refused(
        cdo_review.publish(step(&id, "")).await.unwrap_err(),
        "withheld",
    );
    refused(
        cdo_review.withhold(withholding(&id)).await.unwrap_err(),
        "withheld",
    );
    let reopened = cdo_review
        .reopen(step(&id, "the statute was amended"))
        .await
        .expect("reopen")
        .into_inner();
    assert_eq!(reopened.state(), ReviewState::UnderReview);
    assert_eq!(
        reopened.history.last().map(|t| t.reason.as_str()),
        Some("the statute was amended"),
        "reopening is recorded"
    );
    assert_eq!(
        reopened
            .history
            .iter()
            .filter(|t| t.to_state() == ReviewState::Withheld)
            .count(),
        1,
        "the earlier decision stays in the history"
    );
    stack.stop().await;
}

#[tokio::test]
async fn anyone_may_read_what_is_withheld_and_why() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let cdo = stack.cdo_key().await;
    let id = dataset(&stack, &publisher, "opm", "Road Miles").await;
    review(&stack, &cdo)
        .withhold(withholding(&id))
        .await
        .expect("withhold");

    let mut public = stack.clients(None).review;
    let withheld_of = |agency: &str| governance::SummarizeInventoryRequest {
        agency_id: agency.to_owned(),
    };
    let listed = public
        .summarize_inventory(withheld_of("opm"))
        .await
        .expect("summary")
        .into_inner()
        .withheld;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert_eq!(
        (entry.dataset_id.as_str(), entry.agency_id.as_str()),
        (id.as_str(), "opm")
    );
    assert_eq!(entry.title, "Road Miles");
    assert_eq!(entry.ground(), governance::WithholdingGround::ViolatesLaw);
    assert_eq!(
        entry.explanation,
        "Contains taxpayer information protected by CGS 12-15"
    );
    assert_eq!(entry.access_level(), AccessLevel::NonPublic);
    assert!(entry.withheld_at.is_some());
    let elsewhere = public
        .summarize_inventory(withheld_of("dot"))
        .await
        .expect("summary")
        .into_inner();
    assert!(elsewhere.withheld.is_empty(), "another agency's list");

    // Reopened, it is no longer withheld.
    review(&stack, &cdo)
        .reopen(step(&id, "the statute was amended"))
        .await
        .expect("reopen");
    let summary = public
        .summarize_inventory(withheld_of(""))
        .await
        .expect("summary")
        .into_inner();
    assert!(summary.withheld.is_empty(), "{:?}", summary.withheld);
    assert!(summary.grounds.is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn bad_requests_name_the_field_and_change_nothing() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let cdo = stack.cdo_key().await;
    let mut cdo_review = review(&stack, &cdo);
    let id = dataset(&stack, &publisher, "opm", "Bridge Ratings").await;

    let field = |status: tonic::Status| {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        api_error(&status)
            .details
            .get("field")
            .cloned()
            .unwrap_or_default()
    };
    let mut no_justification = nomination(&id);
    no_justification.justification = " ".into();
    assert_eq!(
        field(cdo_review.nominate(no_justification).await.unwrap_err()),
        "justification"
    );
    let mut bad_frequency = nomination(&id);
    bad_frequency.accrual_periodicity = "every now and then".into();
    let status = cdo_review.nominate(bad_frequency).await.unwrap_err();
    assert!(status.message().contains("R/P1D"), "{}", status.message());
    assert_eq!(field(status), "accrual_periodicity");

    let mut no_ground = withholding(&id);
    no_ground.ground = 0;
    assert_eq!(
        field(cdo_review.withhold(no_ground).await.unwrap_err()),
        "ground"
    );
    let mut no_explanation = withholding(&id);
    no_explanation.explanation = String::new();
    assert_eq!(
        field(cdo_review.withhold(no_explanation).await.unwrap_err()),
        "explanation"
    );
    let mut too_long = withholding(&id);
    too_long.explanation = "x".repeat(256);
    assert_eq!(
        field(cdo_review.withhold(too_long).await.unwrap_err()),
        "explanation"
    );
    let mut public = withholding(&id);
    public.access_level = AccessLevel::Public as i32;
    assert_eq!(
        field(cdo_review.withhold(public).await.unwrap_err()),
        "access_level"
    );

    let unknown = cdo_review
        .nominate(nomination("zzzz-9999"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    // Nothing above changed the record (which the catalog's creation event brings).
    let record = wait_until(EVENTUALLY, "the inventory record", || {
        let mut client = cdo_review.clone();
        let id = id.clone();
        async move {
            client
                .get_inventory_record(governance::GetInventoryRecordRequest { dataset_id: id })
                .await
                .ok()
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    assert_eq!(record.state(), ReviewState::Inventoried);
    assert!(record.history.is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn retirement_rules_and_cross_agency_refusals() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let other_ado = key_for(&stack, "decd", Role::Ado).await;
    let cdo = stack.cdo_key().await;
    let old = dataset(&stack, &publisher, "opm", "Old Series").await;
    let draft = dataset(&stack, &publisher, "opm", "Draft Series").await;
    stack.publish(&old).await;
    review(&stack, &cdo)
        .nominate(nomination(&draft))
        .await
        .expect("nominate");

    // Another agency's ADO is told no (the dataset is public, so its existence is no secret)...
    let denied = review(&stack, &other_ado)
        .withhold(withholding(&old))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert!(
        denied.message().contains("own agency"),
        "{}",
        denied.message()
    );
    // ...and does not learn of the private one.
    let hidden = review(&stack, &other_ado)
        .withhold(withholding(&draft))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound);

    // Only a published dataset can succeed one.
    let status = review(&stack, &ado)
        .retire(governance::RetireRequest {
            dataset_id: old.clone(),
            reason: "replaced".into(),
            successor_dataset_id: draft.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("not a published dataset"),
        "{}",
        status.message()
    );

    // A retired dataset found to hold protected data is withheld at once, not after 30 days.
    review(&stack, &ado)
        .retire(governance::RetireRequest {
            dataset_id: old.clone(),
            reason: "replaced".into(),
            successor_dataset_id: String::new(),
        })
        .await
        .expect("retire");
    let withheld = review(&stack, &ado)
        .withhold(withholding(&old))
        .await
        .expect("withhold a retired dataset")
        .into_inner();
    assert_eq!(withheld.state(), ReviewState::Withheld);
    assert!(!withheld.public);
    stack.wait_public(&old, false).await;
    stack.stop().await;
}
