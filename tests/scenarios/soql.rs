//! SoQL through the public API: clauses, aggregates, functions, errors in Socrata's shape with
//! their position, GeoJSON, conditional requests, content negotiation, app tokens and rate limits.

use opendata_proto::common::v1::{Column, ColumnType, Role};
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestOptions, TestStack, principal_with_key};
use serde_json::json;

use crate::support::*;

const SALES: &str = "Town,Address,Sale Amount,Ratio,Residential,Recorded,Location\n\
Avon,1 Elm St,100000,0.5,true,01/15/2020,POINT (-72.86 41.80)\n\
Avon,2 Oak St,250000,0.75,false,06/30/2021,POINT (-72.87 41.79)\n\
Bristol,3 Pine St,175000.50,0.6,true,12/01/2021,POINT (-72.95 41.67)\n\
Hartford,4 Main St,300000,0.4,false,03/10/2022,POINT (-72.68 41.76)\n\
Hartford,5 Main St,90000,,true,03/11/2022,POINT (-72.67 41.77)\n\
Hartford,6 Asylum Ave,,0.9,,05/05/2023,\n\
Énfield,7 Café Rd,120000,0.55,true,07/04/2023,POINT (-72.59 41.98)\n";

fn columns() -> Vec<Column> {
    vec![
        column("Town", ColumnType::Text),
        column("Address", ColumnType::Text),
        column("Sale Amount", ColumnType::Number),
        column("Ratio", ColumnType::Double),
        column("Residential", ColumnType::Checkbox),
        column("Recorded", ColumnType::CalendarDate),
        column("Location", ColumnType::Point),
    ]
}

async fn sales(stack: &TestStack) -> String {
    let (key, dataset) = published_dataset(stack, "opm", columns(), "").await;
    push(stack, &key, &dataset, UploadMode::Replace, SALES.as_bytes()).await;
    wait_for_version(stack, &dataset, 1).await;
    dataset
}

fn encode(query: &str) -> String {
    query
        .replace('%', "%25")
        .replace(' ', "%20")
        .replace('\'', "%27")
        .replace('&', "%26")
        .replace('+', "%2B")
        .replace('|', "%7C")
}

async fn rows(stack: &TestStack, dataset: &str, query: &str) -> serde_json::Value {
    let response = get(
        stack,
        &format!("/resource/{dataset}.json?{}", encode_pairs(query)),
    )
    .await;
    assert_eq!(response.status, 200, "{query}: {}", response.body);
    response.json()
}

/// Encodes `$a=x&$b=y` keeping the `=` and `&` separators.
fn encode_pairs(query: &str) -> String {
    query
        .split("&$")
        .enumerate()
        .map(|(index, pair)| {
            let pair = if index == 0 {
                pair.to_owned()
            } else {
                format!("${pair}")
            };
            match pair.split_once('=') {
                Some((name, value)) => format!("{name}={}", encode(value)),
                None => pair,
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn clauses_aggregates_and_functions_work_through_the_api() {
    let stack = TestStack::start().await;
    let dataset = sales(&stack).await;
    let cases: Vec<(&str, serde_json::Value)> = vec![
        (
            "$where=sale_amount > 150000 AND town != 'Avon'&$select=address&$order=address",
            json!([{"address": "3 Pine St"}, {"address": "4 Main St"}]),
        ),
        (
            "$select=town, count(*), sum(sale_amount), max(sale_amount)&$group=town&$order=town",
            json!([
                {"town": "Avon", "count": "2", "sum_sale_amount": "350000", "max_sale_amount": "250000"},
                {"town": "Bristol", "count": "1", "sum_sale_amount": "175000.5", "max_sale_amount": "175000.5"},
                {"town": "Hartford", "count": "3", "sum_sale_amount": "390000", "max_sale_amount": "300000"},
                {"town": "Énfield", "count": "1", "sum_sale_amount": "120000", "max_sale_amount": "120000"},
            ]),
        ),
        (
            "$select=town, count(*) AS n&$group=town&$having=n > 1&$order=n DESC",
            json!([{"town": "Hartford", "n": "3"}, {"town": "Avon", "n": "2"}]),
        ),
        (
            "$select=date_trunc_y(recorded) AS year, count(*)&$group=year&$order=year",
            json!([
                {"year": "2020-01-01T00:00:00.000", "count": "1"}, {"year": "2021-01-01T00:00:00.000", "count": "2"},
                {"year": "2022-01-01T00:00:00.000", "count": "2"}, {"year": "2023-01-01T00:00:00.000", "count": "2"},
            ]),
        ),
        (
            "$where=recorded between '2021-01-01' and '2021-12-31T23:59:59'&$select=address&$order=recorded",
            json!([{"address": "2 Oak St"}, {"address": "3 Pine St"}]),
        ),
        (
            "$where=residential&$select=count(*)",
            json!([{"count": "4"}]),
        ),
        (
            "$where=NOT residential OR residential IS NULL&$select=address&$order=address",
            json!([{"address": "2 Oak St"}, {"address": "4 Main St"}, {"address": "6 Asylum Ave"}]),
        ),
        (
            "$where=town IN ('Avon', 'Bristol') AND address LIKE '%Elm%'&$select=address",
            json!([{"address": "1 Elm St"}]),
        ),
        (
            "$where=starts_with(upper(address), '4 M')&$select=lower(town) AS t, length(address)",
            json!([{"t": "hartford", "length_address": "9"}]),
        ),
        (
            "$where=unaccent(town) = 'Enfield'&$select=address",
            json!([{"address": "7 Café Rd"}]),
        ),
        (
            "$select=distinct town&$order=town DESC&$limit=2",
            json!([{"town": "Énfield"}, {"town": "Hartford"}]),
        ),
        (
            "$order=sale_amount DESC NULLS LAST&$select=address&$limit=2&$offset=1",
            json!([{"address": "2 Oak St"}, {"address": "3 Pine St"}]),
        ),
        (
            "$select=address, coalesce(ratio, 0) AS r, round(sale_amount / 3, 2) AS third&$where=town = 'Hartford' AND sale_amount IS NOT NULL&$order=address",
            json!([
                {"address": "4 Main St", "r": 0.4, "third": "100000"}, {"address": "5 Main St", "r": 0, "third": "30000"},
            ]),
        ),
        (
            "$select=case(sale_amount > 200000, 'high', sale_amount > 100000, 'mid', true, 'low') AS band, count(*)&$group=band&$order=band",
            json!([
                {"band": "high", "count": "2"}, {"band": "low", "count": "3"}, {"band": "mid", "count": "2"},
            ]),
        ),
        (
            "$where=within_circle(location, 41.76, -72.68, 3000)&$select=address&$order=address",
            json!([{"address": "4 Main St"}, {"address": "5 Main St"}]),
        ),
        (
            "$where=within_box(location, 41.85, -72.90, 41.75, -72.60)&$select=address&$order=address",
            json!([{"address": "1 Elm St"}, {"address": "2 Oak St"}, {"address": "4 Main St"}, {"address": "5 Main St"}]),
        ),
        (
            "$where=within_polygon(location, 'MULTIPOLYGON (((-73 41.6, -72.9 41.6, -72.9 41.7, -73 41.7, -73 41.6)))')&$select=address",
            json!([{"address": "3 Pine St"}]),
        ),
        (
            "$select=address, distance_in_meters(location, 'POINT (-72.68 41.76)')::number AS d&$where=address = '4 Main St'",
            json!([{"address": "4 Main St", "d": "0"}]),
        ),
        (
            "$select=town || ', CT' AS place, sale_amount * 2 AS double_sale&$where=address = '1 Elm St'",
            json!([{"place": "Avon, CT", "double_sale": "200000"}]),
        ),
        (
            "$query=SELECT town, avg(sale_amount) AS mean WHERE town = 'Avon' GROUP BY town",
            json!([{"town": "Avon", "mean": "175000"}]),
        ),
        (
            "$q=Main Hartford&$select=address&$order=address",
            json!([{"address": "4 Main St"}, {"address": "5 Main St"}]),
        ),
        (
            "$select=date_extract_y(recorded) AS y, date_extract_m(recorded) AS m&$where=address = '3 Pine St'",
            json!([{"y": "2021", "m": "12"}]),
        ),
        (
            "$select=greatest(sale_amount, 200000) AS g, least(ratio, 0.5) AS l, abs(-sale_amount) AS a&$where=address = '1 Elm St'",
            json!([{"g": "200000", "l": 0.5, "a": "100000"}]),
        ),
    ];
    assert!(cases.len() >= 20);
    for (query, expected) in cases {
        assert_eq!(rows(&stack, &dataset, query).await, expected, "{query}");
    }
    let headers = get(
        &stack,
        &format!(
            "/resource/{dataset}.json?{}",
            encode_pairs("$select=town, count(*)&$group=town")
        ),
    )
    .await;
    assert_eq!(
        headers.header("x-soda2-fields"),
        Some(r#"["town","count"]"#)
    );
    assert_eq!(
        headers.header("x-soda2-types"),
        Some(r#"["text","number"]"#)
    );
    stack.stop().await;
}

#[tokio::test]
async fn query_errors_come_in_socratas_shape_with_their_position() {
    let stack = TestStack::start().await;
    let dataset = sales(&stack).await;
    let cases = [
        (
            "$where=town = 'Avon' AND price > 5",
            400,
            "query.soql.no-such-column",
            json!({"parameter": "$where", "column": "price", "line": "1"}),
        ),
        (
            "$where=town = ",
            400,
            "query.compiler.malformed",
            json!({"parameter": "$where"}),
        ),
        (
            "$where=sale_amount > 'lots'",
            400,
            "query.soql.type-mismatch",
            json!({"parameter": "$where"}),
        ),
        (
            "$select=frobnicate(town)",
            400,
            "query.soql.no-such-function",
            json!({"parameter": "$select", "function": "frobnicate"}),
        ),
        (
            "$select=town, count(*)",
            400,
            "query.soql.type-mismatch",
            json!({"parameter": "$select"}),
        ),
        (
            "$select=sale_amount / (sale_amount - sale_amount)",
            400,
            "invalid_request",
            json!({}),
        ),
    ];
    for (query, status, code, data) in cases {
        let response = get(
            &stack,
            &format!("/resource/{dataset}.json?{}", encode_pairs(query)),
        )
        .await;
        assert_eq!(response.status, status, "{query}: {}", response.body);
        let body = response.json();
        assert_eq!(body["code"], code, "{query}: {body}");
        assert_eq!(body["error"], true);
        for (key, value) in data.as_object().unwrap() {
            assert_eq!(&body["data"][key], value, "{query}: {body}");
        }
    }
    let positioned = get(
        &stack,
        &format!(
            "/resource/{dataset}.json?{}",
            encode_pairs("$where=town = 'Avon' AND price > 5")
        ),
    )
    .await
    .json();
    assert_eq!(positioned["data"]["line"], "1");
    assert_eq!(positioned["data"]["character"], "19");
    assert_eq!(positioned["data"]["column"], "price");
    stack.stop().await;
}

#[tokio::test]
async fn geojson_conditional_requests_and_negotiation() {
    let stack = TestStack::start().await;
    let dataset = sales(&stack).await;
    let geo = get(
        &stack,
        &format!(
            "/resource/{dataset}.geojson?{}",
            encode_pairs("$where=address = '1 Elm St'")
        ),
    )
    .await;
    assert_eq!(geo.status, 200, "{}", geo.body);
    assert_eq!(
        geo.header("content-type"),
        Some("application/vnd.geo+json;charset=utf-8")
    );
    let collection = geo.json();
    assert_eq!(collection["type"], "FeatureCollection");
    assert_eq!(
        collection["features"][0]["geometry"],
        json!({"type": "Point", "coordinates": [-72.86, 41.8]})
    );
    assert_eq!(collection["features"][0]["properties"]["town"], "Avon");
    assert!(
        collection["features"][0]["properties"]
            .get("location")
            .is_none()
    );

    let client = reqwest::Client::new();
    let url = format!("{}/resource/{dataset}.json?$limit=2", stack.edge_url());
    let first = client.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.text().await.unwrap().is_empty());
    let since = client
        .get(&url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304);
    let other_query = client
        .get(format!("{url}&$offset=1"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_query.status(),
        200,
        "another request has another ETag"
    );
    let stale = client
        .get(&url)
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);

    let csv = client
        .get(format!(
            "{}/resource/{dataset}?$select=town&$limit=1&$order=town",
            stack.edge_url()
        ))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.text().await.unwrap(), "\"town\"\n\"Avon\"\n");
    let json = client
        .get(format!(
            "{}/resource/{dataset}?$select=town&$limit=1&$order=town",
            stack.edge_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json.headers()["content-type"],
        "application/json;charset=utf-8"
    );
    stack.stop().await;
}

#[tokio::test]
async fn app_tokens_raise_the_quota_and_excess_is_429() {
    let stack = TestStack::start_with(TestOptions {
        anonymous_per_minute: 3,
        token_per_minute: 6,
        // A token governance vouched for lately costs its address nothing; looking one up does.
        auth_cache_ttl_secs: 30,
        ..TestOptions::default()
    })
    .await;
    let dataset = sales(&stack).await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let token = principal_with_key(
        &mut admin,
        "civic",
        Role::Publisher,
        governance::KeyKind::AppToken,
    )
    .await
    .secret;
    let url = format!("{}/resource/{dataset}.json?$limit=1", stack.edge_url());
    let client = reqwest::Client::new();
    // The token's first lookup is paid by its address, which then has two requests left.
    let first = client
        .get(&url)
        .header("x-app-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    for _ in 0..2 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    }
    let limited = client.get(&url).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = serde_json::from_str(&limited.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], "too_many_requests");
    assert_eq!(body["error"], true);

    for attempt in 0..5 {
        let with_header = client
            .get(&url)
            .header("x-app-token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(with_header.status(), 200, "token request {attempt}");
    }
    let over = client
        .get(format!("{url}&$$app_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        over.status(),
        429,
        "the parameter form counts against the same token"
    );
    let bad = client
        .get(&url)
        .header("x-app-token", "odt_not_a_token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        429,
        "an invalid token spends its address's quota, which is spent"
    );
    assert_eq!(
        get(&stack, "/healthz").await.status,
        200,
        "health is never limited"
    );
    stack.stop().await;
}

#[tokio::test]
async fn indexed_columns_are_indexed_before_the_version_goes_live() {
    let stack = TestStack::start().await;
    let mut indexed = columns();
    indexed[0].indexed = true;
    indexed[2].indexed = true;
    let (key, dataset) = published_dataset(&stack, "opm", indexed, "").await;
    let upload = push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        SALES.as_bytes(),
    )
    .await;
    // The rows are in the generation table version 1 started.
    let table = format!("ds_{}_g1", dataset.replace('-', "_"));
    let indexes: Vec<String> = sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = 'data' AND tablename = $1 ORDER BY indexdef")
        .bind(&table)
        .fetch_all(&stack.pool)
        .await
        .unwrap();
    assert_eq!(indexes.len(), 5, "{indexes:?}");
    for version_column in ["(\":to_version\")", "(\":from_version\")"] {
        assert!(
            indexes.iter().any(|i| i.contains(version_column)),
            "{indexes:?}"
        );
    }
    assert!(indexes.iter().any(|i| i.contains("(town)")), "{indexes:?}");
    assert!(
        indexes.iter().any(|i| i.contains("(sale_amount)")),
        "{indexes:?}"
    );
    assert!(upload.index_millis < 60_000);
    stack.stop().await;
}
