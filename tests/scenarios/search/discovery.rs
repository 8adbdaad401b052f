//! The Discovery API at the edge: Socrata's response shape (checked against the recorded real
//! response), its parameters, autocomplete, category and tag counts, and clear errors.

use std::collections::BTreeSet;

use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Role, Schema};
use opendata_testkit::{TestStack, wait_until};
use serde_json::Value;

use crate::support::{EVENTUALLY, create_described, get, key_for, publish};

/// Creates and publishes a dataset; returns its id.
async fn published(
    stack: &TestStack,
    key: &str,
    agency: &str,
    title: &str,
    category: &str,
    tags: &[&str],
) -> String {
    let metadata = catalog::DatasetMetadata {
        title: title.to_owned(),
        description: format!("About {title}"),
        keywords: tags.iter().map(|t| (*t).to_owned()).collect(),
        category: category.to_owned(),
        attribution: "Office of Policy and Management".to_owned(),
        ..Default::default()
    };
    let schema = Schema {
        columns: vec![
            Column {
                display_name: "Town".to_owned(),
                r#type: ColumnType::Text as i32,
                description: "Municipality".to_owned(),
                ..Default::default()
            },
            Column {
                display_name: "Date Recorded".to_owned(),
                r#type: ColumnType::CalendarDate as i32,
                ..Default::default()
            },
        ],
        row_identifier: String::new(),
    };
    let id = create_described(stack, key, agency, metadata, schema).await;
    publish(stack, &id).await;
    id
}

/// Three published datasets, searchable.
async fn portal() -> (TestStack, Vec<String>) {
    let stack = TestStack::start().await;
    let opm = key_for(&stack, "opm", Role::Publisher).await;
    let sde = key_for(&stack, "sde", Role::Publisher).await;
    let ids = vec![
        published(
            &stack,
            &opm,
            "opm",
            "Real Estate Sales 2001-2022",
            "Housing and Development",
            &["property", "sales"],
        )
        .await,
        published(
            &stack,
            &opm,
            "opm",
            "Grand List Totals",
            "Housing and Development",
            &["property"],
        )
        .await,
        published(
            &stack,
            &sde,
            "sde",
            "School Enrollment",
            "Education",
            &["students"],
        )
        .await,
    ];
    wait_until(EVENTUALLY, "three datasets to be searchable", || {
        let stack = &stack;
        async move {
            let body = get(stack, "/api/catalog/v1").await.json();
            (body["resultSetSize"] == 3).then_some(())
        }
    })
    .await;
    (stack, ids)
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn result_ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["resource"]["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn results_have_socratas_shape() {
    let (stack, ids) = portal().await;
    let response = get(&stack, "/api/catalog/v1?q=reel+estate").await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    let body = response.json();
    let sample: Value = serde_json::from_str(include_str!(
        "../../../data/reference/soda/catalog_v1_sample.json"
    ))
    .expect("sample");

    assert_eq!(keys(&body), keys(&sample), "top-level keys");
    assert_eq!(body["resultSetSize"], 1);
    assert!(body["timings"]["serviceMillis"].is_u64());
    assert_eq!(
        body["timings"]["searchMillis"].as_array().map(Vec::len),
        Some(2)
    );
    let result = &body["results"][0];
    let real = &sample["results"][0];
    for part in ["resource", "classification", "metadata"] {
        let ours = keys(&result[part]);
        let theirs = keys(&real[part]);
        assert!(
            ours.is_subset(&theirs),
            "{part}: {:?} are not Socrata's",
            ours.difference(&theirs).collect::<Vec<_>>()
        );
    }
    for required in [
        "resource",
        "classification",
        "metadata",
        "permalink",
        "link",
    ] {
        assert!(result.get(required).is_some(), "{required} missing");
    }
    let resource = &result["resource"];
    assert_eq!(resource["id"], ids[0].as_str());
    assert_eq!(resource["name"], "Real Estate Sales 2001-2022");
    assert_eq!(resource["type"], "dataset");
    assert_eq!(resource["attribution"], "Office of Policy and Management");
    assert_eq!(
        resource["columns_field_name"],
        serde_json::json!(["town", "date_recorded"])
    );
    assert_eq!(
        resource["columns_name"],
        serde_json::json!(["Town", "Date Recorded"])
    );
    assert_eq!(
        resource["columns_datatype"],
        serde_json::json!(["Text", "Calendar date"])
    );
    assert_eq!(
        resource["columns_description"],
        serde_json::json!(["Municipality", ""])
    );
    let updated = resource["updatedAt"].as_str().expect("updatedAt");
    assert!(updated.ends_with('Z') && updated.len() == 24, "{updated}");
    let classification = &result["classification"];
    assert_eq!(classification["domain_category"], "Housing and Development");
    assert_eq!(
        classification["domain_tags"],
        serde_json::json!(["property", "sales"])
    );
    let domain = stack.addresses.edge.to_string();
    assert_eq!(result["metadata"]["domain"], domain.as_str());
    assert_eq!(
        result["permalink"],
        format!("http://{domain}/d/{}", ids[0]).as_str()
    );
    assert_eq!(
        result["link"],
        format!(
            "http://{domain}/Housing-and-Development/Real-Estate-Sales-2001-2022/{}",
            ids[0]
        )
        .as_str()
    );
    stack.stop().await;
}

#[tokio::test]
async fn parameters_filter_order_and_page() {
    let (stack, ids) = portal().await;
    let search = |query: &'static str| {
        let stack = &stack;
        async move {
            let response = get(stack, &format!("/api/catalog/v1?{query}")).await;
            assert_eq!(response.status, 200, "{query}: {}", response.body);
            response.json()
        }
    };
    let body = search("categories=Education").await;
    assert_eq!(result_ids(&body), [ids[2].clone()]);
    let body = search("tags=property&order=name").await;
    assert_eq!(result_ids(&body), [ids[1].clone(), ids[0].clone()]);
    let body = search("tags=property&tags=sales").await;
    assert_eq!(result_ids(&body), [ids[0].clone()]);
    let body = search("order=name+DESC&limit=1&offset=1").await;
    assert_eq!(result_ids(&body), [ids[0].clone()]);
    assert_eq!(body["resultSetSize"], 3, "the total ignores paging");
    let query = format!("ids={}&ids={}", ids[0], ids[2]);
    let response = get(&stack, &format!("/api/catalog/v1?{query}&order=name")).await;
    assert_eq!(
        result_ids(&response.json()),
        [ids[0].clone(), ids[2].clone()]
    );
    let body = search("order=updatedAt").await;
    assert_eq!(result_ids(&body)[0], ids[2], "newest first");
    let body = search("only=datasets&provenance=official&published=true").await;
    assert_eq!(body["resultSetSize"], 3);
    for excluded in [
        "only=chart",
        "domains=data.ny.gov",
        "published=false",
        "provenance=community",
    ] {
        let body = search(excluded).await;
        assert_eq!(body["resultSetSize"], 0, "{excluded}");
        assert_eq!(body["results"], serde_json::json!([]), "{excluded}");
    }
    let domain = stack.addresses.edge.to_string();
    let response = get(
        &stack,
        &format!("/api/catalog/v1?domains=data.ny.gov,{domain}"),
    )
    .await;
    assert_eq!(response.json()["resultSetSize"], 3);
    stack.stop().await;
}

#[tokio::test]
async fn bad_parameters_get_socratas_error_naming_them() {
    let (stack, _) = portal().await;
    for (query, parameter) in [
        ("limit=-1", "limit"),
        ("offset=9950", "limit"),
        ("offset=9000&limit=1001", "limit"),
        ("order=popularity", "order"),
        ("only=spreadsheets", "only"),
        ("colour=red", "colour"),
    ] {
        let response = get(&stack, &format!("/api/catalog/v1?{query}")).await;
        assert_eq!(response.status, 400, "{query}: {}", response.body);
        let body = response.json();
        assert_eq!(body["error"], true);
        assert_eq!(body["code"], "invalid_request");
        assert_eq!(body["data"]["parameter"], parameter, "{query}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let response = get(&stack, "/api/catalog/v1?offset=9900&limit=100").await;
    assert_eq!(response.status, 200, "offset + limit may reach 10000");
    let response = get(&stack, "/api/catalog/v1/autocomplete").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["data"]["parameter"], "q");
    stack.stop().await;
}

#[tokio::test]
async fn autocomplete_and_counts() {
    let (stack, _) = portal().await;
    let response = get(&stack, "/api/catalog/v1/autocomplete?q=real+es").await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["resultSetSize"], 1);
    assert_eq!(body["results"][0]["title"], "Real Estate Sales 2001-2022");
    assert_eq!(
        body["results"][0]["display_title"],
        "<span class=highlight>Real</span> <span class=highlight>Estate</span> Sales 2001-2022"
    );

    let body = get(&stack, "/api/catalog/v1/domain_categories")
        .await
        .json();
    assert_eq!(
        body["results"],
        serde_json::json!([
            {"domain_category": "Housing and Development", "count": 2},
            {"domain_category": "Education", "count": 1},
        ])
    );
    let body = get(&stack, "/api/catalog/v1/domain_tags").await.json();
    assert_eq!(
        body["results"][0],
        serde_json::json!({"domain_tag": "property", "count": 2})
    );
    assert_eq!(body["resultSetSize"], 3);
    stack.stop().await;
}
