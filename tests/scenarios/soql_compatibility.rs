//! Socrata's own documentation as the measure of SoQL: the 96 examples of its function, query
//! and data-type pages (`data/reference/soql/socrata_doc_examples.json`, column names rewritten
//! to the real-estate sample) run through the public API over the whole sample. Every example
//! whose columns the sample has must answer, with the output columns Socrata names; the others
//! must be refused for the column they name, never fail on the server.

use opendata_limits::SOQL_SHAPE_VERTICES;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_soql::ast::{Expr, Selection};
use opendata_soql::functions::lookup;
use opendata_soql::{QueryRequest, parse_request};
use opendata_testkit::TestStack;
use serde_json::{Value, json};

use crate::support::*;

fn corpus() -> Value {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/reference/soql/socrata_doc_examples.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn every_function_socrata_documents_is_one_here() {
    // Socrata's documentation lists its operators among its functions.
    let operators = [
        "between",
        "distinct",
        "in",
        "like",
        "not_between",
        "not_in",
        "not_like",
    ];
    let corpus = corpus();
    let missing: Vec<&str> = corpus["functions_documented"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .filter(|name| !operators.contains(name) && lookup(name).is_none())
        .collect();
    assert!(missing.is_empty(), "not here: {missing:?}");
}

/// The example's parameters as a request, the way the edge reads them.
fn request_of(params: &serde_json::Map<String, Value>) -> QueryRequest {
    let mut request = QueryRequest::default();
    for (name, value) in params {
        let value = value.as_str().unwrap().to_owned();
        match name.as_str() {
            "$select" => request.select = value,
            "$where" => request.where_clause = value,
            "$order" => request.order = value,
            "$group" => request.group = value,
            "$having" => request.having = value,
            "$q" => request.search = value,
            "$query" => request.query = value,
            name if name.starts_with('$') => {}
            field => request.filters.push((field.to_owned(), value)),
        }
    }
    request
}

/// Names of columns the example reads that the sample does not have (aliases and system fields
/// aside).
fn missing_columns(request: &QueryRequest, fields: &[String]) -> Vec<String> {
    let query = parse_request(request).expect("every example parses");
    let aliases: Vec<&str> = query
        .select
        .iter()
        .filter_map(|selection| match selection {
            Selection::Expr {
                alias: Some(alias), ..
            } => Some(alias.as_str()),
            _ => None,
        })
        .collect();
    let mut pending: Vec<&Expr> = query.expressions();
    let mut names: Vec<String> = request.filters.iter().map(|(n, _)| n.clone()).collect();
    while let Some(expr) = pending.pop() {
        if let Expr::Column { name, .. } = expr {
            names.push(name.clone());
        }
        pending.extend(expr.children());
    }
    names.retain(|name| {
        !name.starts_with(':') && !aliases.contains(&name.as_str()) && !fields.contains(name)
    });
    names
}

/// The output columns Socrata names for the example: an alias, or the selected text with every
/// run of other characters than letters and digits made one `_` (`avg(sale_amount)` is
/// `avg_sale_amount`, `count(*)` is `count`); `*` is every column.
fn socrata_names(request: &QueryRequest, fields: &[String]) -> Vec<String> {
    let query = parse_request(request).unwrap();
    if query.select.is_empty() {
        return fields.to_vec();
    }
    let mut names = Vec::new();
    for selection in &query.select {
        match selection {
            Selection::Star => names.extend(fields.iter().cloned()),
            Selection::SystemStar => {}
            Selection::Expr {
                alias: Some(alias), ..
            } => names.push(alias.clone()),
            Selection::Expr { expr, alias: None } => {
                let text = expr.to_string().to_ascii_lowercase();
                let words: Vec<&str> = text
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .filter(|word| !word.is_empty())
                    .collect();
                names.push(words.join("_"));
            }
        }
    }
    names
}

#[tokio::test]
async fn socratas_documented_examples_answer_with_socratas_column_names() {
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(&stack, "opm", real_estate_columns(), "").await;
    push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &std::fs::read(real_estate_file()).unwrap(),
    )
    .await;
    wait_for_version(&stack, &dataset, 1).await;
    let metadata = get(&stack, &format!("/api/views/{dataset}.json"))
        .await
        .json();
    let fields: Vec<String> = metadata["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["fieldName"].as_str().unwrap().to_owned())
        .filter(|name| !name.starts_with(':'))
        .collect();

    let corpus = corpus();
    let examples = corpus["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 96);
    let mut failures = Vec::new();
    let mut answered = 0;
    let mut refused_columns = Vec::new();
    for example in examples {
        let params = example["params"].as_object().unwrap();
        let request = request_of(params);
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(n, v)| (n, v.as_str().unwrap())))
            .finish();
        let response = get(&stack, &format!("/resource/{dataset}.json?{query}")).await;
        let missing = missing_columns(&request, &fields);
        if !missing.is_empty() {
            // The sample has no such column: refused by name, as a client's mistake.
            let error = response.json();
            if response.status != 400 || error["code"] != "query.soql.no-such-column" {
                failures.push(format!("{params:?}: {} {}", response.status, response.body));
            }
            refused_columns.extend(missing);
            continue;
        }
        if response.status != 200 {
            failures.push(format!("{params:?}: {} {}", response.status, response.body));
            continue;
        }
        answered += 1;
        let expected = socrata_names(&request, &fields);
        let named: Vec<String> =
            serde_json::from_str(response.header("x-soda2-fields").unwrap_or("[]")).unwrap();
        if named != expected {
            failures.push(format!(
                "{params:?}: columns {named:?}, Socrata's {expected:?}"
            ));
        }
        // `$$bom` puts a byte-order mark first.
        let rows: Value =
            serde_json::from_str(response.body.trim_start_matches('\u{feff}')).unwrap();
        let keyed_apart = rows.as_array().unwrap().iter().any(|row| {
            row.as_object()
                .unwrap()
                .keys()
                .any(|key| !expected.contains(key))
        });
        if keyed_apart {
            failures.push(format!(
                "{params:?}: rows keyed otherwise than {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    refused_columns.sort();
    refused_columns.dedup();
    assert_eq!(refused_columns, ["arrest", "url_with_description"]);
    assert_eq!(
        answered, 91,
        "every example over the sample's columns answers"
    );

    // What Socrata's parser takes beyond the documentation's examples: windows, DISTINCT ON,
    // `^`; and what it refuses: a clause given twice.
    for (params, first) in [
        (
            "$select=town, count(*) OVER (PARTITION BY town) AS n&$where=town = 'Andover'&$limit=1",
            json!({"town": "Andover", "n": "17"}),
        ),
        (
            "$select=town, row_number() over (partition by town order by sale_amount desc nulls last) AS n&$where=town = 'Andover'&$order=n&$limit=1",
            json!({"town": "Andover", "n": "1"}),
        ),
        (
            "$select=round(avg(sale_amount) over (order by sale_amount range 123 preceding), 2) AS a&$where=sale_amount = 232000&$limit=1",
            json!({"a": "232000"}),
        ),
        (
            "$query=SELECT DISTINCT ON (town, property_type) town, property_type WHERE town = 'Andover' ORDER BY town, property_type LIMIT 1",
            json!({"town": "Andover", "property_type": "Commercial"}),
        ),
        ("$select=2 ^ 10 AS kib&$limit=1", json!({"kib": "1024"})),
    ] {
        let response = get(&stack, &format!("/resource/{dataset}.json?{params}")).await;
        assert_eq!(response.status, 200, "{params}: {}", response.body);
        assert_eq!(response.json()[0], first, "{params}");
    }
    // Values PostgreSQL refuses are the caller's mistakes, not the server's.
    for refused in [
        "$select=10 ^ 400 AS huge&$limit=1",
        "$select=ntile(0) OVER () AS bucket&$limit=1",
    ] {
        let response = get(&stack, &format!("/resource/{dataset}.json?{refused}")).await;
        assert_eq!(response.status, 400, "{refused}: {}", response.body);
    }
    for twice in [
        "SELECT town ORDER BY town ORDER BY sale_amount",
        "SELECT town SEARCH 'a' LIMIT 5 SEARCH 'b'",
    ] {
        let response = get(&stack, &format!("/resource/{dataset}.json?$query={twice}")).await;
        assert_eq!(response.status, 400, "{twice}: {}", response.body);
        let error = response.json();
        assert_eq!(error["code"], "query.compiler.malformed", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("given twice"),
            "{error}"
        );
    }

    // Geometries are well-known text in CSV and the features' geometry in GeoJSON.
    let hull = "$select=count(*) AS n, convex_hull(location) AS hull";
    let csv = get(&stack, &format!("/resource/{dataset}.csv?{hull}")).await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.body.contains("\"MULTIPOLYGON((("), "{}", csv.body);
    let geojson = get(&stack, &format!("/resource/{dataset}.geojson?{hull}"))
        .await
        .json();
    assert_eq!(
        geojson["features"][0]["geometry"]["type"], "MultiPolygon",
        "{geojson}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn without_postgis_geometry_functions_are_refused_by_name_and_the_rest_still_answer() {
    let stack = TestStack::start_with(opendata_testkit::TestOptions {
        postgis: false,
        ..Default::default()
    })
    .await;
    let (key, dataset) = published_dataset(&stack, "opm", real_estate_columns(), "").await;
    let head: String = std::fs::read_to_string(real_estate_file())
        .unwrap()
        .lines()
        .take(50)
        .collect::<Vec<_>>()
        .join("\n");
    push(&stack, &key, &dataset, UploadMode::Replace, head.as_bytes()).await;
    wait_for_version(&stack, &dataset, 1).await;
    for (select, function) in [
        ("convex_hull(location)", "convex_hull"),
        ("town, extent(location)", "extent"),
        ("num_points(location)", "num_points"),
        ("simplify(location, 0.001)", "simplify"),
    ] {
        let response = get(
            &stack,
            &format!("/resource/{dataset}.json?$select={select}&$group=town"),
        )
        .await;
        assert_eq!(response.status, 400, "{select}: {}", response.body);
        let error = response.json();
        assert_eq!(error["code"], "query.soql.no-such-function", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{function} needs PostGIS"))
                && message.contains("CREATE EXTENSION postgis"),
            "{message}"
        );
    }
    let intersects = get(
        &stack,
        &format!("/resource/{dataset}.json?$where=intersects(location, 'POINT (-72.34 41.72)')"),
    )
    .await;
    assert_eq!(intersects.status, 400, "{}", intersects.body);
    assert_eq!(intersects.json()["data"]["function"], "intersects");
    // Everything else needs no PostGIS.
    let nearby = get(
        &stack,
        &format!(
            "/resource/{dataset}.json?$select=count(*) AS n, max(location.latitude) AS north\
             &$where=within_circle(location, 41.72, -72.34, 5000)"
        ),
    )
    .await;
    assert_eq!(nearby.status, 200, "{}", nearby.body);
    // A polygon past the vertex limit is refused naming it, PostGIS or not.
    let vertices = vec!["0 0"; SOQL_SHAPE_VERTICES.get() + 1].join(",");
    let huge: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "$where",
            &format!("within_polygon(location, 'POLYGON (({vertices}))')"),
        )
        .finish();
    let refused = get(&stack, &format!("/resource/{dataset}.json?{huge}")).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.json()["data"]["limit"], SOQL_SHAPE_VERTICES.name);
    assert!(
        nearby.json()[0]["n"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    stack.stop().await;
}
