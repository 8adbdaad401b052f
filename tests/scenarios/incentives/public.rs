//! The public side through the edge: company search and filters, paging, downloads of everything
//! in CSV and JSON, summaries whose totals match an independent computation over the same
//! records, programs and tax credits, and errors naming the parameter.

use std::collections::BTreeMap;

use opendata_proto::incentives::v1 as pb;
use opendata_testkit::{TestStack, wait_until};

use super::{award, decd};
use crate::support::{EVENTUALLY, get};

const TOWNS: [&str; 4] = ["Hartford", "New Haven", "Enfield", "Putnam"];
const COMPANIES: [&str; 6] = [
    "Alliance Lending",
    "Precision Gears",
    "Harbor Biotech",
    "Alliance Tool and Die",
    "Northeast Logistics",
    "Quinnipiac Foods",
];

/// Thirty awards spread over towns, years, programs and industries, as recorded.
fn awards() -> Vec<pb::AwardFields> {
    (0..30)
        .map(|i: usize| {
            let program = ["maa", "steap", "jobs-credit"][i % 3];
            let (grant, loan) = match program {
                "maa" => (0, 100_000 * (i as i64 + 1)),
                _ => (25_000 * (i as i64 + 1), 0),
            };
            let mut fields = award(
                COMPANIES[i % COMPANIES.len()],
                TOWNS[i % TOWNS.len()],
                2015 + (i % 4) as i32,
                grant,
                loan,
                program,
            );
            fields.industry = ["Manufacturing", "Finance and Insurance"][i % 2].to_owned();
            fields.jobs_to_create = i as i64;
            fields
        })
        .collect()
}

#[tokio::test]
async fn the_public_searches_filters_and_downloads_awards() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let sent = awards();
    decd.client
        .record_awards(pb::RecordAwardsRequest {
            awards: sent
                .iter()
                .map(|fields| pb::NewAward {
                    fields: Some(fields.clone()),
                    reviews: vec![],
                })
                .collect(),
        })
        .await
        .expect("record the awards");

    let page = get(&stack, "/api/incentives/awards?limit=7&offset=0").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let page = page.json();
    assert_eq!(page["total"], 30);
    assert_eq!(page["results"].as_array().unwrap().len(), 7);
    assert_eq!(
        page["results"][0]["fiscal_year"], 2018,
        "newest fiscal year first"
    );

    // Company words match (through search, once the award events are indexed).
    let expected = sent
        .iter()
        .filter(|f| f.company.starts_with("Alliance"))
        .count();
    let alliance = wait_until(EVENTUALLY, "the awards to be searchable", || async {
        let found = get(&stack, "/api/incentives/awards?company=allian")
            .await
            .json();
        (found["total"] == expected as u64 && found["company_search"] == "full_text")
            .then_some(found)
    })
    .await;
    assert_eq!(alliance["company_search"], "full_text");
    let both = get(&stack, "/api/incentives/awards?company=alliance%20tool")
        .await
        .json();
    assert_eq!(
        both["total"],
        sent.iter()
            .filter(|f| f.company == "Alliance Tool and Die")
            .count() as u64
    );

    // Filters combine; repeated parameters are alternatives.
    let query = "/api/incentives/awards?municipality=hartford&municipality=Enfield&fiscal_year=2016&program=maa&program=steap&assistance_type=grant&industry=Manufacturing&limit=100";
    let filtered = get(&stack, query).await.json();
    let expected: Vec<&pb::AwardFields> = sent
        .iter()
        .filter(|f| ["Hartford", "Enfield"].contains(&f.municipality.as_str()))
        .filter(|f| f.fiscal_year == 2016)
        .filter(|f| ["maa", "steap"].contains(&f.program_id.as_str()))
        .filter(|f| f.grant_amount != "0")
        .filter(|f| f.industry == "Manufacturing")
        .collect();
    assert_eq!(filtered["total"], expected.len() as u64, "{filtered}");
    let tax_credit = get(&stack, "/api/incentives/awards?assistance_type=tax_credit")
        .await
        .json();
    assert_eq!(tax_credit["total"], 10);

    // The downloads hold every matching award.
    let csv = get(&stack, "/api/incentives/awards.csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(&header[..3], ["id", "fiscal_year", "company"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 30);
    let loan_column = header.iter().position(|h| h == "loan_amount").unwrap();
    let loans: i64 = rows
        .iter()
        .map(|r| r[loan_column].parse::<f64>().unwrap() as i64)
        .sum();
    let sent_loans: i64 = sent
        .iter()
        .map(|f| f.loan_amount.parse::<i64>().unwrap())
        .sum();
    assert_eq!(loans, sent_loans);
    let json = get(&stack, "/api/incentives/awards.json?municipality=Putnam").await;
    let json = json.json();
    let putnam = sent.iter().filter(|f| f.municipality == "Putnam").count();
    assert_eq!(json.as_array().unwrap().len(), putnam);

    let one = &page["results"][0];
    let id = one["id"].as_str().unwrap();
    let single = get(&stack, &format!("/api/incentives/awards/{id}"))
        .await
        .json();
    assert_eq!(single["company"], one["company"]);
    assert_eq!(
        single["obligation_status"], "past_due",
        "targets of 2016-2019 have passed"
    );
    let history = get(&stack, &format!("/api/incentives/awards/{id}/history"))
        .await
        .json();
    assert_eq!(history[0]["change"], "recorded");

    // Bad requests name what is wrong.
    for (path, parameter) in [
        ("/api/incentives/awards?town=Hartford", "town"),
        ("/api/incentives/awards?limit=ten", "limit"),
        ("/api/incentives/awards?fiscal_year=FY17", "fiscal_year"),
        ("/api/incentives/summary?by=town", "by"),
        ("/api/incentives/summary", "by"),
        ("/api/incentives/awards.csv?limit=5", "limit"),
        ("/api/incentives/tax-credits?year=last", "year"),
    ] {
        let response = get(&stack, path).await;
        assert_eq!(response.status, 400, "{path}");
        assert_eq!(response.json()["data"]["parameter"], parameter, "{path}");
    }
    let response = get(&stack, "/api/incentives/awards?assistance_type=gift").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["data"]["parameter"], "assistance_type");
    let response = get(&stack, "/api/incentives/awards?limit=5000").await;
    assert_eq!(response.json()["data"]["field"], "limit");
    let missing = get(
        &stack,
        &format!("/api/incentives/awards/{}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(missing.status, 404);
    let malformed = get(&stack, "/api/incentives/awards/not-an-id").await;
    assert_eq!(malformed.status, 400);
    stack.stop().await;
}

#[tokio::test]
async fn summaries_match_an_independent_computation() {
    let stack = TestStack::start().await;
    let mut decd = decd(&stack).await;
    let sent = awards();
    let mut ids = Vec::new();
    for fields in &sent {
        ids.push(super::record(&mut decd.client, fields.clone()).await.id);
    }
    // A withdrawn award leaves the totals.
    decd.client
        .withdraw_award(pb::WithdrawAwardRequest {
            id: ids[0].clone(),
            reason: "duplicate".into(),
        })
        .await
        .unwrap();
    let counted = &sent[1..];

    // Independently: cents by (municipality, fiscal year).
    let mut expected: BTreeMap<(String, String), (u64, i64, i64, i64)> = BTreeMap::new();
    for fields in counted {
        let entry = expected
            .entry((fields.municipality.clone(), fields.fiscal_year.to_string()))
            .or_default();
        let grant: i64 = fields.grant_amount.parse().unwrap();
        let loan: i64 = fields.loan_amount.parse().unwrap();
        entry.0 += 1;
        entry.1 += grant * 100;
        entry.2 += loan * 100;
        entry.3 += fields.jobs_to_retain + fields.jobs_to_create;
    }
    let response = get(
        &stack,
        "/api/incentives/summary?by=municipality,fiscal_year",
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let summary = response.json();
    assert_eq!(
        summary["by"],
        serde_json::json!(["municipality", "fiscal_year"])
    );
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    let cents = |value: &serde_json::Value| -> i64 {
        let text = value.as_str().unwrap();
        let (dollars, cents) = text.split_once('.').unwrap();
        dollars.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
    };
    for (row, ((town, year), (count, grant, loan, jobs))) in rows.iter().zip(&expected) {
        assert_eq!(row["municipality"], town.as_str());
        assert_eq!(row["fiscal_year"], year.as_str());
        assert_eq!(row["award_count"], *count);
        assert_eq!(cents(&row["grant_total"]), *grant);
        assert_eq!(cents(&row["loan_total"]), *loan);
        assert_eq!(cents(&row["assistance_total"]), grant + loan);
        assert_eq!(row["jobs_promised"], *jobs);
    }

    // By program, labelled with the program's name, and filtered.
    let by_program = get(
        &stack,
        "/api/incentives/summary?by=program&fiscal_year=2017",
    )
    .await
    .json();
    for row in by_program["rows"].as_array().unwrap() {
        let program = row["program"].as_str().unwrap();
        let count = counted
            .iter()
            .filter(|f| f.program_id == program && f.fiscal_year == 2017)
            .count();
        assert_eq!(row["award_count"], count as u64, "{program}");
        assert!(row["program_name"].as_str().unwrap().len() > 3);
    }
    let industries = get(&stack, "/api/incentives/summary?by=industry")
        .await
        .json();
    let total: u64 = industries["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["award_count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, counted.len() as u64);

    // A change shows in the next summary (summaries are cached until the awards change).
    let hartford_2016 = |summary: &serde_json::Value| {
        summary["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["municipality"] == "Hartford" && r["fiscal_year"] == "2016")
            .map_or(0, |r| r["award_count"].as_u64().unwrap())
    };
    let before = hartford_2016(&summary);
    super::record(
        &mut decd.client,
        award("Late Addition", "Hartford", 2016, 1, 0, "maa"),
    )
    .await;
    let after = get(
        &stack,
        "/api/incentives/summary?by=municipality,fiscal_year",
    )
    .await
    .json();
    assert_eq!(hartford_2016(&after), before + 1);

    let programs = get(&stack, "/api/incentives/programs").await.json();
    assert_eq!(programs.as_array().unwrap().len(), 3);
    decd.client
        .record_tax_credits(pb::RecordTaxCreditsRequest {
            figures: vec![pb::TaxCreditFigure {
                year: 2015,
                credit_type: "Fixed Capital".into(),
                tax_type: "Corporation Business Tax".into(),
                claim_count: 1708,
                amount_claimed: "79,884,093".into(),
                amount_carried_forward: String::new(),
            }],
        })
        .await
        .unwrap();
    let bad = decd
        .client
        .record_tax_credits(pb::RecordTaxCreditsRequest {
            figures: vec![pb::TaxCreditFigure {
                year: 2015,
                credit_type: String::new(),
                tax_type: "Corporation Business Tax".into(),
                claim_count: -1,
                amount_claimed: "n/a".into(),
                amount_carried_forward: String::new(),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(
        super::violated_fields(&bad),
        [
            "figures[0].credit_type",
            "figures[0].claim_count",
            "figures[0].amount_claimed"
        ]
    );
    let credits = get(&stack, "/api/incentives/tax-credits?year=2015")
        .await
        .json();
    assert_eq!(credits[0]["amount_claimed"], "79884093.00");
    assert_eq!(credits[0]["claim_count"], 1708);
    assert_eq!(
        get(&stack, "/api/incentives/tax-credits?year=2014")
            .await
            .json(),
        serde_json::json!([])
    );
    stack.stop().await;
}
