//! `/api/admin/`: the workflow over HTTP with a bearer key, the annual inventory and access plan,
//! the stale list and the audit log, with Socrata-shaped errors naming what was wrong.

use opendata_proto::common::v1::Role;
use opendata_testkit::{TestStack, wait_until};

use super::dataset;
use crate::support::{EVENTUALLY, HttpResponse, key_for, send};

fn error(response: &HttpResponse, status: u16) -> serde_json::Value {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let body = response.json();
    assert_eq!(body["error"], true, "{body}");
    body
}

#[tokio::test]
async fn the_workflow_over_http_with_clear_errors() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let cdo = stack.cdo_key().await;
    let id = dataset(&stack, &publisher, "opm", "Town Budgets").await;
    let path = |step: &str| format!("/api/admin/datasets/{id}/{step}");

    let nominate = r#"{"justification": "asked for by towns", "accrualPeriodicity": "quarterly"}"#;
    let body = error(
        &send(&stack, &path("nominate"), None, Some(nominate)).await,
        401,
    );
    assert_eq!(body["code"], "authentication_required");
    error(
        &send(&stack, &path("nominate"), Some(&publisher), Some(nominate)).await,
        403,
    );
    let body = error(
        &send(&stack, &path("nominate"), Some(&ado), Some("{not json")).await,
        400,
    );
    assert_eq!(body["data"]["parameter"], "body");
    let body = error(
        &send(
            &stack,
            &path("nominate"),
            Some(&ado),
            Some(r#"{"justfication": "typo"}"#),
        )
        .await,
        400,
    );
    assert!(
        body["message"].as_str().unwrap().contains("justfication"),
        "{body}"
    );

    let nominated = send(&stack, &path("nominate"), Some(&ado), Some(nominate)).await;
    assert_eq!(nominated.status, 200, "{}", nominated.body);
    let record = nominated.json();
    assert_eq!(record["state"], "nominated");
    assert_eq!(record["accrualPeriodicity"], "R/P3M");
    assert_eq!(record["history"][0]["to"], "nominated");

    let body = error(
        &send(&stack, &path("publish"), Some(&cdo), Some("{}")).await,
        409,
    );
    assert_eq!(body["code"], "conflict");
    assert_eq!(body["data"]["state"], "nominated");
    for step in ["start-review", "approve", "publish"] {
        let response = send(&stack, &path(step), Some(&cdo), Some(r#"{"reason": "ok"}"#)).await;
        assert_eq!(response.status, 200, "{step}: {}", response.body);
    }
    stack.wait_public(&id, true).await;

    let body = error(
        &send(
            &stack,
            &path("withhold"),
            Some(&cdo),
            Some(r#"{"ground": "because", "explanation": "x"}"#),
        )
        .await,
        400,
    );
    assert_eq!(body["data"]["parameter"], "ground");
    let body = error(
        &send(
            &stack,
            &path("withhold"),
            Some(&cdo),
            Some(r#"{"ground": "violates_law"}"#),
        )
        .await,
        400,
    );
    assert_eq!(body["data"]["field"], "explanation");
    let withheld = send(
        &stack,
        &path("withhold"),
        Some(&ado),
        Some(r#"{"ground": "violates_law", "explanation": "Names minors (CGS 46b-124)", "accessLevel": "restricted public"}"#),
    )
    .await;
    assert_eq!(withheld.status, 200, "{}", withheld.body);
    let record = withheld.json();
    assert_eq!(record["state"], "withheld");
    assert_eq!(record["withholdingGround"], "violates_law");
    assert_eq!(record["accessLevel"], "restricted public");
    assert_eq!(record["rights"], "Names minors (CGS 46b-124)");
    stack.wait_public(&id, false).await;

    let shown = send(
        &stack,
        &format!("/api/admin/datasets/{id}"),
        Some(&ado),
        None,
    )
    .await;
    assert_eq!(shown.json()["history"].as_array().map(Vec::len), Some(5));
    error(
        &send(
            &stack,
            &format!("/api/admin/datasets/{id}"),
            Some(&key_for(&stack, "decd", Role::Ado).await),
            None,
        )
        .await,
        404,
    );
    error(
        &send(&stack, &path("frobnicate"), Some(&cdo), Some("{}")).await,
        404,
    );
    stack.stop().await;
}

#[tokio::test]
async fn the_annual_inventory_and_access_plan_exports_and_the_audit_log() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let ado = key_for(&stack, "opm", Role::Ado).await;
    let other_ado = key_for(&stack, "decd", Role::Ado).await;
    let cdo = stack.cdo_key().await;
    let open = dataset(&stack, &publisher, "opm", "Open, with a comma").await;
    let held = dataset(&stack, &publisher, "opm", "Held").await;
    stack.publish(&open).await;
    let withheld = send(
        &stack,
        &format!("/api/admin/datasets/{held}/withhold"),
        Some(&cdo),
        Some(r#"{"ground": "undue_burden", "explanation": "Scanned paper records only"}"#),
    )
    .await;
    assert_eq!(withheld.status, 200, "{}", withheld.body);

    let csv_response = send(&stack, "/api/admin/inventory/opm.csv", Some(&ado), None).await;
    assert_eq!(csv_response.status, 200, "{}", csv_response.body);
    assert_eq!(
        csv_response.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        csv_response
            .header("content-disposition")
            .is_some_and(|d| d.contains("opm-inventory.csv"))
    );
    assert_eq!(
        csv_response.header("cache-control"),
        Some("no-store"),
        "no cache keeps a staff answer"
    );
    let mut reader = csv::Reader::from_reader(csv_response.body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "dataset_id");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let row = |id: &str| rows.iter().find(|r| &r[0] == id).unwrap().clone();
    assert_eq!(&row(&open)[column("title")], "Open, with a comma");
    assert_eq!(&row(&open)[column("status")], "published");
    assert_eq!(&row(&open)[column("access_level")], "public");
    assert_eq!(&row(&open)[column("accrual_periodicity")], "R/P1M");
    assert_eq!(&row(&open)[column("freshness")], "current");
    assert_eq!(&row(&held)[column("status")], "withheld");
    assert_eq!(&row(&held)[column("access_level")], "non-public");
    assert_eq!(&row(&held)[column("withholding_ground")], "undue_burden");
    assert_eq!(&row(&held)[column("rights")], "Scanned paper records only");

    let json_response = send(&stack, "/api/admin/inventory/opm.json", Some(&cdo), None).await;
    assert_eq!(json_response.status, 200, "{}", json_response.body);
    let plan = json_response.json();
    assert_eq!(plan.as_array().map(Vec::len), Some(2));
    assert!(
        plan.as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "withheld")
    );
    error(
        &send(
            &stack,
            "/api/admin/inventory/opm.json",
            Some(&other_ado),
            None,
        )
        .await,
        403,
    );
    error(
        &send(&stack, "/api/admin/inventory/opm.xml", Some(&cdo), None).await,
        404,
    );
    let body = error(
        &send(&stack, "/api/admin/inventory?state=lost", Some(&cdo), None).await,
        400,
    );
    assert_eq!(body["data"]["parameter"], "state");
    let listed = send(
        &stack,
        "/api/admin/inventory?agency=opm&state=withheld",
        Some(&cdo),
        None,
    )
    .await;
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));

    let stale = send(&stack, "/api/admin/stale?agency=opm", Some(&ado), None).await;
    assert_eq!(stale.status, 200, "{}", stale.body);
    assert_eq!(stale.json(), serde_json::json!([]));

    let audit = wait_until(EVENTUALLY, "the audit entries", || async {
        let audit = send(
            &stack,
            &format!("/api/admin/audit?subject=dataset:{held}"),
            Some(&cdo),
            None,
        )
        .await;
        (audit.status == 200).then(|| audit.json())
    })
    .await;
    assert_eq!(audit[0]["action"], "dataset.withhold");
    assert_eq!(audit[0]["details"]["ground"], "undue_burden");
    error(
        &send(&stack, "/api/admin/audit", Some(&ado), None).await,
        403,
    );
    let body = error(
        &send(&stack, "/api/admin/audit?limit=many", Some(&cdo), None).await,
        400,
    );
    assert_eq!(body["data"]["parameter"], "limit");
    let csv_log = send(&stack, "/api/admin/audit.csv", Some(&cdo), None).await;
    assert_eq!(csv_log.status, 200);
    assert!(
        csv_log
            .body
            .starts_with("id,at,actor_id,action,subject,reason,details")
    );
    assert!(csv_log.body.contains("dataset.withhold"));
    stack.stop().await;
}
