//! SoQL's tables checked against PostgreSQL: every row of the function table
//! (`opendata_soql::functions::functions`) and of the clause examples
//! (`opendata_soql::clause_examples::CLAUSE_EXAMPLES`) is run through the public API and must
//! give the value or rows it states, over a dataset shaped like the compiler's test schema.

use opendata_proto::common::v1::{Column, ColumnType};
use opendata_proto::ingestion::v1::UploadMode;
use opendata_soql::clause_examples::CLAUSE_EXAMPLES;
use opendata_soql::functions::functions;
use opendata_testkit::TestStack;

use crate::support::*;

/// The sample: the first row is the one scalar examples are evaluated on.
const SAMPLE: &str = "Town,Sale Amount,Ratio,Sold,Date Recorded,Location,Place,Link\n\
Avon,100000,0.5,true,01/15/2020,POINT (-72.86 41.80),\"60 West Main Street (41.80, -72.86)\",Town of Avon (https://www.avonct.gov/)\n\
Avon,250000,0.75,false,06/30/2021,POINT (-72.87 41.79),\"(41.79, -72.87)\",https://www.avonct.gov/assessor\n\
Bristol,175000.50,0.6,true,12/01/2021,POINT (-72.95 41.67),,\n\
Hartford,300000,0.4,false,03/10/2022,POINT (-72.68 41.76),,\n\
Hartford,90000,,true,03/11/2022,POINT (-72.67 41.77),,\n\
Hartford,,0.9,,05/05/2023,,,\n\
Énfield,120000,0.55,true,07/04/2023,POINT (-72.59 41.98),,\n";

fn columns() -> Vec<Column> {
    vec![
        column("Town", ColumnType::Text),
        column("Sale Amount", ColumnType::Number),
        column("Ratio", ColumnType::Double),
        column("Sold", ColumnType::Checkbox),
        column("Date Recorded", ColumnType::CalendarDate),
        column("Location", ColumnType::Point),
        column("Place", ColumnType::Location),
        column("Link", ColumnType::Url),
    ]
}

async fn sample(stack: &TestStack) -> String {
    let (key, dataset) = published_dataset(stack, "opm", columns(), "").await;
    push(
        stack,
        &key,
        &dataset,
        UploadMode::Replace,
        SAMPLE.as_bytes(),
    )
    .await;
    wait_for_version(stack, &dataset, 1).await;
    dataset
}

/// A value as the examples write it: strings unquoted, everything else as JSON.
fn written(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The rows answered to a query given as name/value pairs.
async fn rows_of(stack: &TestStack, dataset: &str, pairs: &[(&str, &str)]) -> serde_json::Value {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let response = get(stack, &format!("/resource/{dataset}.json?{query}")).await;
    assert_eq!(response.status, 200, "{pairs:?}: {}", response.body);
    response.json()
}

#[tokio::test]
async fn every_function_gives_its_examples_value() {
    let stack = TestStack::start().await;
    let dataset = sample(&stack).await;
    let mut wrong = Vec::new();
    for function in functions() {
        let select = format!("{} AS v", function.example.soql);
        let mut pairs = vec![("$select", select.as_str())];
        if !function.aggregates() {
            pairs.extend([("$order", ":id"), ("$limit", "1")]);
        }
        let answered = &rows_of(&stack, &dataset, &pairs).await[0]["v"];
        let value = written(answered);
        // Objects (geometries) compare as JSON, whatever order their keys come in.
        let same = match serde_json::from_str::<serde_json::Value>(function.example.value) {
            Ok(expected @ serde_json::Value::Object(_)) if answered.is_object() => {
                *answered == expected
            }
            _ => value == function.example.value,
        };
        if !same {
            wrong.push(format!(
                "{}: {} gave {value}, the table says {}",
                function.name, function.example.soql, function.example.value
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn every_clause_example_answers_its_rows() {
    let stack = TestStack::start().await;
    let dataset = sample(&stack).await;
    let mut wrong = Vec::new();
    for example in CLAUSE_EXAMPLES {
        let rows = rows_of(&stack, &dataset, example.params).await;
        let expected: serde_json::Value =
            serde_json::from_str(example.rows).expect("the example's rows are JSON");
        if rows != expected {
            wrong.push(format!(
                "{}: answered {rows}, the table says {expected}",
                example.shows
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
