//! Every text and list DECD or the public sends incentives has a limit: past it, or with a NUL
//! character (which PostgreSQL cannot store), the call is refused as `INVALID_ARGUMENT` naming the
//! field and the limit, nothing of it is recorded, and the edge refuses the same public filters
//! itself with a 400 naming the parameter.

use opendata_limits::{FILTER_VALUES, RECORDS_PER_CALL, SEARCH_TEXT, TEXT_NAME, TEXT_PARAGRAPH};
use opendata_platform::error::ErrorCode;
use opendata_proto::incentives::v1 as pb;
use opendata_testkit::TestStack;

use super::{Client, award, decd, record, violated_fields};
use crate::support::{api_error, assert_edge_refuses};

/// Asserts an `INVALID_ARGUMENT` refusal naming `fields` (in order) and `limit`.
fn assert_refused(status: &tonic::Status, fields: &[&str], limit: Option<&str>) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let error = api_error(status);
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert_eq!(violated_fields(status), fields, "{}", error.message);
    assert_eq!(
        error.details.get("limit").map(String::as_str),
        limit,
        "{}",
        error.message
    );
}

/// Awards the public finds, withdrawn ones left out.
async fn recorded(client: &mut Client) -> u64 {
    client
        .search_awards(pb::SearchAwardsRequest::default())
        .await
        .expect("search awards")
        .into_inner()
        .total
}

fn batch(awards: Vec<pb::AwardFields>) -> pb::RecordAwardsRequest {
    pb::RecordAwardsRequest {
        awards: awards
            .into_iter()
            .map(|fields| pb::NewAward {
                fields: Some(fields),
                reviews: vec![],
            })
            .collect(),
    }
}

#[tokio::test]
async fn writes_past_their_limits_or_with_nul_characters_record_nothing() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let long_name = "n".repeat(TEXT_NAME.get() + 1);
    let long_paragraph = "p".repeat(TEXT_PARAGRAPH.get() + 1);

    // One award: every broken rule at once, the limit named.
    let status = decd
        .client
        .record_award(pb::RecordAwardRequest {
            fields: Some(pb::AwardFields {
                company: "Alliance\0Lending".into(),
                municipality: long_name.clone(),
                ..award("unused", "unused", 2019, 0, 100, "maa")
            }),
        })
        .await
        .unwrap_err();
    assert_refused(
        &status,
        &["fields.company", "fields.municipality"],
        Some(TEXT_NAME.name),
    );
    assert!(
        status.message().contains("201 characters") && status.message().contains("text_name"),
        "{}",
        status.message()
    );

    // A batch with one bad award records none; a NUL in the program id never reaches the database.
    let mut awards = vec![award("Good Co", "Enfield", 2019, 10, 0, "maa"); 3];
    awards[1].penalty_terms = long_paragraph.clone();
    awards[2].program_id = "maa\0".into();
    awards[2].statutory_reference = "CGS\0".into();
    let status = decd.client.record_awards(batch(awards)).await.unwrap_err();
    assert_refused(
        &status,
        &[
            "awards[1].fields.penalty_terms",
            "awards[2].fields.program_id",
            "awards[2].fields.statutory_reference",
        ],
        Some(TEXT_PARAGRAPH.name),
    );
    let status = decd
        .client
        .record_award(pb::RecordAwardRequest {
            fields: Some(pb::AwardFields {
                program_id: "maa\0".into(),
                ..award("Good Co", "Enfield", 2019, 10, 0, "maa")
            }),
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["fields.program_id"], None);

    // Too many reviews, or notes too long, refuse the batch too.
    let review = pb::JobReview {
        reviewed_on: "2020-06-30".into(),
        actual_jobs: 12,
        notes: String::new(),
    };
    let mut many_reviews = batch(vec![award("Good Co", "Enfield", 2019, 10, 0, "maa")]);
    many_reviews.awards[0].reviews = vec![review.clone(); FILTER_VALUES.get() + 1];
    let status = decd.client.record_awards(many_reviews).await.unwrap_err();
    assert_refused(&status, &["awards[0].reviews"], Some(FILTER_VALUES.name));
    let mut long_notes = batch(vec![award("Good Co", "Enfield", 2019, 10, 0, "maa")]);
    long_notes.awards[0].reviews = vec![pb::JobReview {
        notes: long_paragraph.clone(),
        ..review.clone()
    }];
    let status = decd.client.record_awards(long_notes).await.unwrap_err();
    assert_refused(
        &status,
        &["awards[0].reviews[0].notes"],
        Some(TEXT_PARAGRAPH.name),
    );

    // Malformed amounts and dates are refused without sending the input back whole.
    let status = decd
        .client
        .record_award(pb::RecordAwardRequest {
            fields: Some(pb::AwardFields {
                grant_amount: "9".repeat(100_000) + "x",
                zip_code: "0\0".into(),
                ..award("Good Co", "Enfield", 2019, 10, 0, "maa")
            }),
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["fields.zip_code", "fields.grant_amount"], None);
    assert!(status.message().len() < 400, "{}", status.message());
    assert_eq!(recorded(&mut decd.client).await, 0, "nothing was recorded");

    // Reasons and review notes of a recorded award.
    let kept = record(
        &mut decd.client,
        award("Kept Co", "Putnam", 2019, 0, 100, "maa"),
    )
    .await;
    let status = decd
        .client
        .correct_award(pb::CorrectAwardRequest {
            id: kept.id.clone(),
            fields: kept.fields.clone(),
            reason: long_paragraph.clone(),
            expected_revision: 1,
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["reason"], Some(TEXT_PARAGRAPH.name));
    let status = decd
        .client
        .withdraw_award(pb::WithdrawAwardRequest {
            id: kept.id.clone(),
            reason: "dup\0licate".into(),
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["reason"], None);
    let status = decd
        .client
        .add_job_review(pb::AddJobReviewRequest {
            id: kept.id.clone(),
            review: Some(pb::JobReview {
                notes: long_paragraph.clone(),
                ..review
            }),
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["review.notes"], Some(TEXT_PARAGRAPH.name));
    let unchanged = decd
        .client
        .get_award(pb::GetAwardRequest {
            id: kept.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((unchanged.revision, unchanged.withdrawn), (1, false));
    assert!(unchanged.reviews.is_empty());
    let status = decd
        .client
        .get_award(pb::GetAwardRequest {
            id: "x".repeat(100_000),
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["id"], None);
    assert!(status.message().len() < 400, "{}", status.message());

    // Programs and tax credits.
    let status = decd
        .client
        .upsert_program(pb::Program {
            id: "long".into(),
            name: long_name.clone(),
            statutory_reference: long_paragraph.clone(),
            assistance_types: vec!["grant".into()],
            administering_agency: "de\0cd".into(),
        })
        .await
        .unwrap_err();
    assert_refused(
        &status,
        &["name", "administering_agency", "statutory_reference"],
        Some(TEXT_NAME.name),
    );
    let figure = pb::TaxCreditFigure {
        year: 2020,
        credit_type: "Research and Development".into(),
        tax_type: "Corporation".into(),
        claim_count: 3,
        amount_claimed: "1000".into(),
        amount_carried_forward: "0".into(),
    };
    let status = decd
        .client
        .record_tax_credits(pb::RecordTaxCreditsRequest {
            figures: vec![
                figure.clone(),
                pb::TaxCreditFigure {
                    credit_type: long_name.clone(),
                    tax_type: "Corpor\0ation".into(),
                    ..figure.clone()
                },
            ],
        })
        .await
        .unwrap_err();
    assert_refused(
        &status,
        &["figures[1].credit_type", "figures[1].tax_type"],
        Some(TEXT_NAME.name),
    );
    let status = decd
        .client
        .record_tax_credits(pb::RecordTaxCreditsRequest {
            figures: vec![figure; RECORDS_PER_CALL.get() + 1],
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["figures"], Some(RECORDS_PER_CALL.name));
    let programs = decd
        .client
        .list_programs(pb::ListProgramsRequest {})
        .await
        .unwrap()
        .into_inner()
        .programs;
    assert!(programs.iter().all(|p| p.id != "long"));
    let figures = decd
        .client
        .list_tax_credits(pb::ListTaxCreditsRequest { year: 0 })
        .await
        .unwrap()
        .into_inner()
        .figures;
    assert!(figures.is_empty(), "{figures:?}");
    stack.stop().await;
}

#[tokio::test]
async fn award_filters_past_their_limits_are_refused_by_incentives_and_the_edge() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    record(
        &mut decd.client,
        award("Precision Gears", "Hartford", 2019, 0, 100, "maa"),
    )
    .await;
    let mut public = stack.clients(None).incentives;

    // gRPC: the search, the summary and the export read the same filter.
    let long_company = pb::SearchAwardsRequest {
        company: "a".repeat(SEARCH_TEXT.get() + 1),
        ..Default::default()
    };
    let status = public
        .search_awards(long_company.clone())
        .await
        .unwrap_err();
    assert_refused(&status, &["company"], Some(SEARCH_TEXT.name));
    // Matching a company alone is held to the same limits, before search is asked.
    let status = public.resolve_company(long_company).await.unwrap_err();
    assert_refused(&status, &["company"], Some(SEARCH_TEXT.name));
    let nul_town = pb::SearchAwardsRequest {
        municipalities: vec!["Hart\0ford".into()],
        ..Default::default()
    };
    let status = public.search_awards(nul_town).await.unwrap_err();
    assert_refused(&status, &["municipalities"], None);
    let status = public
        .summarize_awards(pb::SummarizeAwardsRequest {
            group_by: vec![pb::SummaryDimension::Municipality as i32],
            filter: Some(pb::SearchAwardsRequest {
                industries: vec!["Manufacturing".into(); FILTER_VALUES.get() + 1],
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_refused(&status, &["industries"], Some(FILTER_VALUES.name));
    let status = public
        .export_awards(pb::SearchAwardsRequest {
            program_ids: vec!["p".repeat(TEXT_NAME.get() + 1)],
            fiscal_years: vec![2019; FILTER_VALUES.get() + 1],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_refused(
        &status,
        &["program_ids", "fiscal_years"],
        Some(TEXT_NAME.name),
    );
    let at_the_limits = pb::SearchAwardsRequest {
        municipalities: vec!["Hartford".into(); FILTER_VALUES.get()],
        ..Default::default()
    };
    let found = public.search_awards(at_the_limits).await.unwrap();
    assert_eq!(found.into_inner().total, 1);

    // The edge: Socrata's error shape, naming the parameter and the limit.
    let long = "a".repeat(SEARCH_TEXT.get() + 1);
    let many_programs = vec!["program=maa"; FILTER_VALUES.get() + 1].join("&");
    let long_industry = "i".repeat(TEXT_NAME.get() + 1);
    for (path, parameter, limit) in [
        (
            format!("/api/incentives/awards?company={long}"),
            "company",
            Some(SEARCH_TEXT.name),
        ),
        (
            "/api/incentives/awards?municipality=Hart%00ford".to_owned(),
            "municipality",
            None,
        ),
        (
            format!("/api/incentives/summary?by=program&{many_programs}"),
            "program",
            Some(FILTER_VALUES.name),
        ),
        (
            format!("/api/incentives/awards.csv?industry={long_industry}"),
            "industry",
            Some(TEXT_NAME.name),
        ),
        (
            "/api/incentives/awards.json?company=ac%00me".to_owned(),
            "company",
            None,
        ),
    ] {
        assert_edge_refuses(&stack, &path, parameter, limit).await;
    }
    stack.stop().await;
}
