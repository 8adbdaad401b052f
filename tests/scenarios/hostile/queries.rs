//! Queries built to exhaust the stack or the database: long operator chains, deep nesting, huge
//! lists, NUL characters. The services run on tokio's worker threads (2 MiB stacks, as in
//! `opendata up`); a stack overflow would abort this test binary.

use opendata_limits::{SOQL_DEPTH, SOQL_IN_VALUES, SOQL_SELECTED_COLUMNS};
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::ColumnType;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::TestStack;

use crate::support::*;

async fn sales(stack: &TestStack) -> String {
    let columns = vec![
        column("Town", ColumnType::Text),
        column("Sale Amount", ColumnType::Number),
    ];
    let (key, dataset) = published_dataset(stack, "opm", columns, "").await;
    let file = b"Town,Sale Amount\nAvon,100\nBristol,200\nHartford,300\n";
    push(stack, &key, &dataset, UploadMode::Replace, file).await;
    wait_for_version(stack, &dataset, 1).await;
    dataset
}

/// `GET /resource/{dataset}.json` with these parameters, each value percent-encoded.
async fn query(stack: &TestStack, dataset: &str, parameters: &[(&str, &str)]) -> HttpResponse {
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(parameters)
        .finish();
    get(stack, &format!("/resource/{dataset}.json?{encoded}")).await
}

/// Asserts a 400 in Socrata's shape naming `limit` and `parameter`.
fn assert_refused(response: &HttpResponse, limit: &str, parameter: &str) {
    assert_eq!(response.status, 400, "{}", response.body);
    let body = response.json();
    assert_eq!(body["code"], "query.compiler.malformed", "{body}");
    assert_eq!(body["data"]["limit"], limit, "{body}");
    assert_eq!(body["data"]["parameter"], parameter, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_chains_and_deep_nesting_are_refused_and_the_portal_keeps_serving() {
    let stack = TestStack::start().await;
    let dataset = sales(&stack).await;

    // The request that used to overflow the stack and abort the whole process.
    let chain = format!("sale_amount > 1{}", "+1".repeat(300));
    let response = query(&stack, &dataset, &[("$where", &chain)]).await;
    assert_refused(&response, SOQL_DEPTH.name, "$where");

    let deep = format!("{}sale_amount{}", "abs(".repeat(200), ")".repeat(200));
    for parameter in ["$select", "$where", "$order", "$group", "$having"] {
        let response = query(&stack, &dataset, &[(parameter, &deep)]).await;
        assert_refused(&response, SOQL_DEPTH.name, parameter);
    }
    let statement = format!("SELECT town WHERE {chain}");
    let response = query(&stack, &dataset, &[("$query", &statement)]).await;
    assert_refused(&response, SOQL_DEPTH.name, "$query");

    // A few hundred alternatives are an ordinary query.
    let mut towns: Vec<String> = (0..400).map(|n| format!("town = 'Town {n}'")).collect();
    towns.push("town = 'Hartford'".to_owned());
    let response = query(&stack, &dataset, &[("$where", &towns.join(" OR "))]).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json().as_array().map(Vec::len), Some(1));

    // The same limits hold for agencies calling the catalog over gRPC.
    let status = stack
        .clients(None)
        .catalog
        .query_rows(catalog::QueryRowsRequest {
            dataset_id: dataset.clone(),
            where_clause: chain,
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let error = opendata_platform::error::ApiError::from_status(&status);
    assert_eq!(
        error.details.get("limit").map(String::as_str),
        Some(SOQL_DEPTH.name)
    );

    let response = query(&stack, &dataset, &[("$order", "sale_amount")]).await;
    assert_eq!(response.status, 200, "still serving: {}", response.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_lists_selections_and_nul_characters_are_400s_naming_what_was_wrong() {
    let stack = TestStack::start().await;
    let dataset = sales(&stack).await;

    let values = vec!["1"; SOQL_IN_VALUES.get() + 1].join(",");
    let in_list = format!("sale_amount IN ({values})");
    let response = query(&stack, &dataset, &[("$where", &in_list)]).await;
    assert_refused(&response, SOQL_IN_VALUES.name, "$where");

    let selection = vec!["town"; SOQL_SELECTED_COLUMNS.get() + 1].join(",");
    let response = query(&stack, &dataset, &[("$select", &selection)]).await;
    assert_refused(&response, SOQL_SELECTED_COLUMNS.name, "$select");

    for (parameter, value) in [
        ("$where", "town = 'Avon\0'"),
        ("$q", "Avon\0"),
        ("town", "Avon\0"),
        ("$select", "town, '\0' AS nothing"),
    ] {
        let response = query(&stack, &dataset, &[(parameter, value)]).await;
        assert_eq!(response.status, 400, "{parameter}: {}", response.body);
        let body = response.json();
        assert_eq!(body["data"]["parameter"], parameter, "{body}");
        assert!(
            body["message"].as_str().unwrap_or_default().contains("NUL"),
            "{body}"
        );
    }
}
