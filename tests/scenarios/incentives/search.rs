//! Company names through the search service: typo-tolerant, kept current by award events
//! (withdrawn awards leave), never mixed into the dataset catalog, and answered by the incentives
//! database's own text index while search is down.

use opendata_proto::incentives::v1 as pb;
use opendata_testkit::{TestStack, wait_until};

use super::{award, decd, record};
use crate::support::{EVENTUALLY, get};

async fn companies(stack: &TestStack, query: &str) -> (Vec<String>, String) {
    let page = get(stack, &format!("/api/incentives/awards?company={query}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = page.json();
    let mut names: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["company"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let engine = page["company_search"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (names, engine)
}

#[tokio::test]
async fn companies_are_found_through_search_with_a_fallback() {
    let mut stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    for (company, town) in [
        ("Precision Gears Inc.", "Bristol"),
        ("Precision Optics LLC", "Hartford"),
        ("Harbor Biotech", "New London"),
    ] {
        record(
            &mut decd.client,
            award(company, town, 2020, 0, 100_000, "maa"),
        )
        .await;
    }
    let harbor = record(
        &mut decd.client,
        award("Harbor Freight Lines", "Groton", 2021, 5_000, 0, "steap"),
    )
    .await;
    wait_until(EVENTUALLY, "the awards to be searchable", || async {
        let (found, engine) = companies(&stack, "harbor").await;
        (found.len() == 2 && engine == "full_text").then_some(())
    })
    .await;

    // Typos are tolerated, every word must match, and the search service said so.
    let (found, engine) = companies(&stack, "precison").await;
    assert_eq!(found, ["Precision Gears Inc.", "Precision Optics LLC"]);
    assert_eq!(engine, "full_text");
    assert_eq!(
        companies(&stack, "precision%20gears").await.0,
        ["Precision Gears Inc."]
    );
    let (nothing, _) = companies(&stack, "zeppelin").await;
    assert!(nothing.is_empty());
    let filtered = get(
        &stack,
        "/api/incentives/awards?company=harbor&program=steap",
    )
    .await
    .json();
    assert_eq!(filtered["total"], 1);
    assert_eq!(
        filtered["company_search"], "full_text",
        "the index filters by program"
    );
    // Towns compare without case; a blank filter value filters nothing, as in the database; a
    // filter no indexed award passes leaves the answer to the database.
    for (query, total, engine) in [
        ("company=precision&municipality=HARTFORD", 1, "full_text"),
        ("company=precision&municipality=", 2, "full_text"),
        ("company=precision&municipality=Groton", 0, "database"),
        ("company=harbor&fiscal_year=2021", 1, "full_text"),
    ] {
        let page = get(&stack, &format!("/api/incentives/awards?{query}"))
            .await
            .json();
        assert_eq!(page["total"], total, "{query}: {page}");
        assert_eq!(page["company_search"], engine, "{query}");
    }
    let csv = get(&stack, "/api/incentives/awards.csv?company=precision").await;
    assert_eq!(csv.header("x-company-search"), Some("full_text"));
    assert_eq!(csv.body.lines().count(), 3, "header and two awards");
    let summary = get(
        &stack,
        "/api/incentives/summary?by=municipality&company=precision",
    )
    .await
    .json();
    assert_eq!(summary["rows"].as_array().unwrap().len(), 2);
    assert_eq!(summary["company_search"], "full_text");

    // gRPC callers get the same matching: typos forgiven, and who matched said.
    let precison = || pb::SearchAwardsRequest {
        company: "precison".into(),
        ..Default::default()
    };
    let page = decd
        .client
        .search_awards(precison())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (page.total, page.company_match()),
        (2, pb::CompanyMatch::FullText)
    );
    let resolved = decd
        .client
        .resolve_company(precison())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            resolved.ids.len(),
            resolved.company.as_str(),
            resolved.company_match()
        ),
        (2, "", pb::CompanyMatch::FullText),
        "the matches travel as ids"
    );
    let summary = decd
        .client
        .summarize_awards(pb::SummarizeAwardsRequest {
            group_by: vec![pb::SummaryDimension::Municipality as i32],
            filter: Some(precison()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.rows.len(), 2);
    let zeppelin = decd
        .client
        .search_awards(pb::SearchAwardsRequest {
            company: "zeppelin".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (zeppelin.total, zeppelin.company_match()),
        (0, pb::CompanyMatch::FullText)
    );

    // Awards never show up among datasets.
    let catalog = get(&stack, "/api/catalog/v1?q=precision").await.json();
    assert_eq!(catalog["resultSetSize"], 0, "{catalog}");
    let suggestions = get(&stack, "/api/catalog/v1/autocomplete?q=precis")
        .await
        .json();
    assert_eq!(suggestions["results"], serde_json::json!([]));

    // A withdrawn award leaves the search.
    decd.client
        .withdraw_award(pb::WithdrawAwardRequest {
            id: harbor.id,
            reason: "duplicate".into(),
        })
        .await
        .unwrap();
    wait_until(
        EVENTUALLY,
        "the withdrawn award to leave search",
        || async { (companies(&stack, "harbor").await.0 == ["Harbor Biotech"]).then_some(()) },
    )
    .await;

    // Search down: the database answers, by word prefixes, and says so.
    stack.stop_search().await;
    let (found, engine) = companies(&stack, "precision").await;
    assert_eq!(found, ["Precision Gears Inc.", "Precision Optics LLC"]);
    assert_eq!(engine, "database");
    let page = decd
        .client
        .search_awards(pb::SearchAwardsRequest {
            company: "precision".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (page.total, page.company_match()),
        (2, pb::CompanyMatch::Database),
        "gRPC callers get the database's answer too"
    );
    stack.start_search().await;
    let (found, engine) = companies(&stack, "precison").await;
    assert_eq!(
        (found.len(), engine.as_str()),
        (2, "full_text"),
        "rebuilt with the awards"
    );
    stack.stop().await;
}
