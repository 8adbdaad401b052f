//! DECD's real tables through `opendata incentives import`: every award of the three portfolios
//! and every DRS tax credit figure is recorded, messy cells are read as published (penalties with
//! words, `n/a`, repeated headers, footnotes), obligations come out as DECD reported them, and a
//! bad row stops its file with the line and field named and nothing of it stored.

use std::path::PathBuf;

use opendata::client::Connection;
use opendata_proto::common::v1::Role;
use opendata_proto::incentives::v1 as pb;
use opendata_proto::incentives::v1::ObligationStatus;
use opendata_testkit::{TestStack, wait_until};

use crate::support::{EVENTUALLY, key_for};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn connection(stack: &TestStack, key: &str) -> Connection {
    let url = |address: std::net::SocketAddr| format!("http://{address}");
    Connection {
        key: Some(key.to_owned()),
        governance_url: url(stack.addresses.governance),
        catalog_url: url(stack.addresses.catalog),
        ingestion_url: url(stack.addresses.ingestion),
        search_url: url(stack.addresses.search),
        incentives_url: url(stack.addresses.incentives),
        ca_file: None,
    }
}

/// The one award of company `name`, once company search finds it (the search service indexes
/// imported awards from their events, moments later).
async fn company(client: &mut super::Client, name: &str) -> pb::Award {
    wait_until(
        EVENTUALLY,
        &format!("company search to find {name}"),
        || {
            let mut client = client.clone();
            async move {
                let found = client
                    .search_awards(pb::SearchAwardsRequest {
                        company: name.to_owned(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                (found.total == 1)
                    .then(|| found.awards.into_iter().next())
                    .flatten()
            }
        },
    )
    .await
}

#[tokio::test]
async fn decds_published_tables_import_with_a_clear_report() {
    let stack = TestStack::start().await;
    let key = key_for(&stack, "decd", Role::Ado).await;
    let report = opendata::incentives::import(&connection(&stack, &key), &data())
        .await
        .expect("import the real tables");
    assert_eq!(report.programs, 9);
    assert_eq!(
        report.awards.iter().map(|(_, n)| n).sum::<usize>(),
        30,
        "{report}"
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.contains("qivg-ffqa_top_records.csv line 2: a repeated header")),
        "{report}"
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.contains("fnq4-e774_top_records.csv line 11: a footnote")),
        "{report}"
    );

    let again = opendata::incentives::import(&connection(&stack, &key), &data())
        .await
        .unwrap_err()
        .to_string();
    assert!(again.contains("already holds 30 awards"), "{again}");

    let mut client = stack.clients(None).incentives;
    let americus = company(&mut client, "Americus Dental").await;
    assert_eq!(
        americus.obligation_status(),
        ObligationStatus::NotMet,
        "59 of 75 jobs, as DECD reports"
    );
    assert!(americus.penalty_flag);
    let fields = americus.fields.unwrap();
    assert_eq!(
        (fields.penalty.as_str(), fields.penalty_terms.as_str()),
        ("16000.00", "$16,000 paid")
    );
    let advance = company(&mut client, "Advance Stores").await;
    assert_eq!(advance.obligation_status(), ObligationStatus::Met);
    assert_eq!(advance.fields.unwrap().forgiveness_credit, "3000000.00");
    let brownfield = client
        .search_awards(pb::SearchAwardsRequest {
            program_ids: vec!["brownfield".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(brownfield.total, 10);

    let credits = client
        .list_tax_credits(pb::ListTaxCreditsRequest { year: 2015 })
        .await
        .unwrap()
        .into_inner()
        .figures;
    let fixed = credits
        .iter()
        .find(|f| f.credit_type == "Fixed Capital" && f.tax_type == "Corporation Business Tax")
        .expect("fixed capital, 2015");
    assert_eq!(
        (
            fixed.claim_count,
            fixed.amount_claimed.as_str(),
            fixed.amount_carried_forward.as_str()
        ),
        (1708, "79884093.00", "276848171.00"),
        "claims of qivg-ffqa merged with carry-forwards of 6q3e-u95u"
    );
    assert!(credits.iter().all(|f| f.credit_type != "Type of Credit"));
    stack.stop().await;
}

#[tokio::test]
async fn a_bad_row_names_its_line_and_field_and_stores_nothing_of_its_file() {
    let stack = TestStack::start().await;
    let key = key_for(&stack, "decd", Role::Ado).await;
    let directory = std::env::temp_dir().join(format!("opendata-import-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(directory.join("decd")).unwrap();
    std::fs::create_dir_all(directory.join("incentives")).unwrap();
    for entry in std::fs::read_dir(data().join("decd")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), directory.join("decd").join(entry.file_name())).unwrap();
    }
    std::fs::copy(
        data().join("incentives/programs.json"),
        directory.join("incentives/programs.json"),
    )
    .unwrap();
    let portfolio = directory.join("decd/xnw3-nytd_top_records.csv");
    let text = std::fs::read_to_string(&portfolio).unwrap();
    std::fs::write(&portfolio, text.replacen(",441310,", ",44-13,", 1)).unwrap();

    let error = opendata::incentives::import(&connection(&stack, &key), &directory)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("xnw3-nytd_top_records.csv line 3: fields.naics_code"),
        "{error}"
    );
    let total = stack
        .clients(None)
        .incentives
        .search_awards(pb::SearchAwardsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total;
    assert_eq!(total, 0);
    std::fs::remove_dir_all(directory).unwrap();
    stack.stop().await;
}
