//! The incentives explorer and company pages: a company found with a typo, filters by town and
//! program, totals by program and on the town map, and a company page with jobs promised next to
//! jobs found, the obligation status, penalties and each award's corrections.

use opendata_proto::incentives::v1 as pb;
use opendata_testkit::{TestStack, wait_until};

use super::{award, decd, record};
use crate::support::{EVENTUALLY, get};

#[tokio::test]
async fn residents_explore_awards_and_read_a_company_page() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let acme = record(
        &mut decd.client,
        award(
            "Acme Precision Tooling",
            "Hartford",
            2017,
            250_000,
            1_000_000,
            "maa",
        ),
    )
    .await;
    record(
        &mut decd.client,
        award(
            "Acme Precision Tooling",
            "Hartford",
            2018,
            50_000,
            0,
            "steap",
        ),
    )
    .await;
    record(
        &mut decd.client,
        award("Mystic Boatworks", "Stonington", 2017, 75_000, 0, "steap"),
    )
    .await;
    let mut corrected = award(
        "Acme Precision Tooling",
        "Hartford",
        2017,
        300_000,
        1_000_000,
        "maa",
    );
    corrected.penalty_terms = "repay 10% per missing job".to_owned();
    decd.client
        .correct_award(pb::CorrectAwardRequest {
            id: acme.id.clone(),
            fields: Some(corrected),
            reason: "the grant was raised at closing".to_owned(),
            expected_revision: 1,
        })
        .await
        .expect("correct");
    decd.client
        .add_job_review(pb::AddJobReviewRequest {
            id: acme.id.clone(),
            review: Some(pb::JobReview {
                reviewed_on: "2018-06-30".to_owned(),
                actual_jobs: 12,
                notes: "site visit".to_owned(),
            }),
        })
        .await
        .expect("review");

    // Everything, with totals by program; the form offers every town, program and year.
    let all = get(&stack, "/incentives").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert!(all.body.contains("Awards (3)"), "{}", all.body);
    assert!(
        all.body
            .contains("<option value=\"Windsor Locks\">Windsor Locks</option>")
    );
    assert!(
        all.body
            .contains("<option value=\"steap\">Small Town Economic Assistance Program</option>")
    );
    assert!(all.body.contains("<option value=\"2018\">FY 2018</option>"));
    assert!(
        all.body.contains(
            "<td>Small Town Economic Assistance Program</td><td>2</td><td>125000.00</td>"
        ),
        "{}",
        all.body
    );

    // Filtered by town and program: the list, the totals and the map follow; links keep them.
    let filtered = get(&stack, "/incentives?municipality=Hartford&program=steap").await;
    assert!(filtered.body.contains("Awards (1)"), "{}", filtered.body);
    assert!(
        filtered
            .body
            .contains("<img src=\"/incentives/map.svg?municipality=Hartford&#38;program=steap\"")
    );
    let map = get(
        &stack,
        "/incentives/map.svg?municipality=Hartford&program=steap",
    )
    .await;
    assert_eq!(map.header("content-type"), Some("image/svg+xml"));
    assert!(
        map.body.contains("<title>Hartford: 50000</title>"),
        "{}",
        map.body
    );
    assert!(map.body.contains("<title>Stonington: no awards</title>"));

    // A company found with a typo, once the search service has indexed the awards; the company
    // page shows promises against results. (as the form sends it: the choices left at "any" are
    // empty)
    wait_until(EVENTUALLY, "the typo to find both awards", || async {
        let typo = get(
            &stack,
            "/incentives?company=acme+precison&municipality=&program=&fiscal_year=&industry=&assistance_type=",
        )
        .await;
        typo.body.contains("Awards (2)").then_some(())
    })
    .await;
    let company = get(&stack, "/incentives/company?name=Acme+Precision+Tooling").await;
    assert_eq!(company.status, 200, "{}", company.body);
    for text in [
        "<dt>Awards</dt><dd>2</dd>",
        "10 retained and 5 created",
        "<dt>Jobs found</dt><dd>12</dd>",
        "repay 10% per missing job",
        "2018-06-30: 12 jobs (site visit)",
        "corrected, because the grant was raised at closing",
    ] {
        assert!(
            company.body.contains(text),
            "{text:?} not in {}",
            company.body
        );
    }
    assert!(
        !company.body.contains("Mystic"),
        "only the company's awards"
    );

    // Wrong filters are named; an unknown company is a 404 page.
    let wrong = get(&stack, "/incentives?fiscal_year=soon").await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("fiscal_year"), "{}", wrong.body);
    assert_eq!(
        get(&stack, "/incentives/company?name=Nobody+Inc")
            .await
            .status,
        404
    );
    assert_eq!(get(&stack, "/incentives/company").await.status, 400);
    stack.stop().await;
}
