//! The staff pages, as a browser uses them: an ADO signs in with an API key and nominates; the CDO
//! reviews, publishes and withholds; the public sees each decision. The session cookie is
//! `HttpOnly` and `SameSite=Strict`, every form needs the session's CSRF token, posts from other
//! sites are refused, what a role may not do is refused by governance (and nothing changes), and a
//! session ends at sign-out or when its key is revoked.

use opendata_proto::common::v1::{ColumnType, Role};
use opendata_proto::governance::v1 as governance;
use opendata_testkit::{Issued, TestStack, principal_with_key, wait_until};

use crate::support::{EVENTUALLY, HttpResponse, column, create_dataset, get, key_for, send};

/// A browser without JavaScript: posts forms, follows nothing by itself, keeps one cookie.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(stack: &TestStack) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: stack.edge_url(),
            cookie: None,
        }
    }

    async fn read(request: reqwest::RequestBuilder) -> HttpResponse {
        let response = request.send().await.expect("http request");
        HttpResponse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.expect("http body"),
        }
    }

    async fn get(&self, path: &str) -> HttpResponse {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        Browser::read(request).await
    }

    /// Posts `fields` as the portal's own page does (same origin).
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        self.post_from(path, fields, &self.base).await
    }

    async fn post_from(&self, path: &str, fields: &[(&str, &str)], origin: &str) -> HttpResponse {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            body.append_pair(name, value);
        }
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(body.finish());
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        Browser::read(request).await
    }

    /// Signs in with `key`; returns the `Set-Cookie` header.
    async fn sign_in(&mut self, key: &str) -> String {
        let answer = self.post("/staff/sign-in", &[("key", key)]).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        assert_eq!(answer.header("location"), Some("/staff"));
        let set_cookie = answer.header("set-cookie").expect("a cookie").to_owned();
        self.cookie = Some(set_cookie.split(';').next().unwrap_or_default().to_owned());
        set_cookie
    }

    /// The signed-in desk once it lists dataset `id` (the inventory learns of a dataset from the
    /// catalog's event).
    async fn desk_listing(&self, id: &str) -> HttpResponse {
        wait_until(EVENTUALLY, "the dataset on the desk", || async {
            let desk = self.get("/staff").await;
            desk.body
                .contains(&format!("/staff/d/{id}"))
                .then_some(desk)
        })
        .await
    }

    /// The CSRF token of the forms on `page`.
    fn csrf(page: &HttpResponse) -> String {
        let start = page
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        page.body[start..start + 32].to_owned()
    }
}

fn assert_contains(page: &HttpResponse, text: &str) {
    assert!(page.body.contains(text), "{text:?} not in {}", page.body);
}

async fn state_of(stack: &TestStack, id: &str) -> governance::ReviewState {
    stack
        .clients(Some(&stack.cdo_key().await))
        .review
        .get_inventory_record(governance::GetInventoryRecordRequest {
            dataset_id: id.to_owned(),
        })
        .await
        .expect("record")
        .into_inner()
        .state()
}

/// One of opm's datasets and opm's Data Officer, with an API key.
async fn opm_dataset_and_officer(stack: &TestStack) -> (String, Issued) {
    let publisher = key_for(stack, "opm", Role::Publisher).await;
    let id = create_dataset(
        stack,
        &publisher,
        "opm",
        vec![column("Town", ColumnType::Text)],
        "",
    )
    .await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let ado = principal_with_key(&mut admin, "opm", Role::Ado, governance::KeyKind::ApiKey).await;
    (id, ado)
}

#[tokio::test]
async fn sign_in_refuses_wrong_keys_foreign_posts_and_oversized_forms() {
    let stack = TestStack::start().await;
    let (_, ado) = opm_dataset_and_officer(&stack).await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;

    // Signed out, /staff is the sign-in form; staff pages are never cached.
    let browser = Browser::new(&stack);
    let form = browser.get("/staff").await;
    assert_eq!(form.status, 200);
    assert_contains(&form, "type=\"password\"");
    assert_eq!(form.header("cache-control"), Some("no-store"));
    assert!(form.header("content-security-policy").is_some());

    // Wrong keys are refused by name; a post from another site is refused unread.
    let wrong = browser.post("/staff/sign-in", &[("key", "odk_nope")]).await;
    assert_eq!(wrong.status, 401);
    assert_contains(&wrong, "That key is unknown or revoked.");
    let empty = browser.post("/staff/sign-in", &[("key", "  ")]).await;
    assert_eq!(empty.status, 400);
    assert_contains(&empty, "enter your API key");
    let foreign = browser
        .post_from(
            "/staff/sign-in",
            &[("key", &ado.secret)],
            "https://evil.example",
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.header("set-cookie").is_none());
    let token = principal_with_key(&mut admin, "opm", Role::Ado, governance::KeyKind::AppToken)
        .await
        .secret;
    let app_token = browser.post("/staff/sign-in", &[("key", &token)]).await;
    assert_eq!(app_token.status, 400, "{}", app_token.body);
    assert_contains(&app_token, "started with an API key");
    let admin_session = browser
        .post("/staff/sign-in", &[("key", &stack.admin_key)])
        .await;
    assert_eq!(
        admin_session.status, 400,
        "administrators keep to their keys"
    );
    let unsigned = Browser::read(
        browser
            .client
            .post(format!("{}/staff/sign-in", browser.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("key={}", ado.secret)),
    )
    .await;
    assert_eq!(
        unsigned.status, 403,
        "a post that says nothing of where it comes from"
    );
    let huge = "k".repeat(opendata_limits::PAGE_FORM_BYTES.get() + 1);
    let too_large = browser.post("/staff/sign-in", &[("key", &huge)]).await;
    assert_eq!(too_large.status, 413);
    assert_contains(&too_large, "page_form_bytes");
    stack.stop().await;
}

#[tokio::test]
async fn officers_govern_through_the_staff_pages() {
    let stack = TestStack::start().await;
    let (id, ado) = opm_dataset_and_officer(&stack).await;
    let mut browser = Browser::new(&stack);

    // The ADO signs in: the session lives in a cookie scripts and other sites cannot use.
    let cookie = browser.sign_in(&ado.secret).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/staff", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains(&ado.secret),
        "the key itself is never a cookie"
    );
    let desk = browser.desk_listing(&id).await;
    assert_eq!(desk.status, 200);
    assert_contains(&desk, "Agency Data Officer");
    assert_contains(&desk, &format!("/staff/d/{id}"));

    // The record offers the ADO a nomination, not the CDO's decisions.
    let record = browser.get(&format!("/staff/d/{id}")).await;
    assert_contains(&record, "Nominate for publication");
    assert!(!record.body.contains("/publish\""), "{}", record.body);
    let csrf = Browser::csrf(&record);
    let nominate = format!("/staff/d/{id}/nominate");
    let fields = [
        ("justification", "Residents ask for it"),
        ("accrualPeriodicity", "R/P1M"),
    ];

    // Without the session's token, or from another site, nothing happens.
    let no_token = browser.post(&nominate, &fields).await;
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    let forged = browser
        .post(
            &nominate,
            &[("csrf", "0".repeat(32).as_str()), fields[0], fields[1]],
        )
        .await;
    assert_eq!(forged.status, 403);
    let cross_site = browser
        .post_from(
            &nominate,
            &[("csrf", &csrf), fields[0], fields[1]],
            "https://evil.example",
        )
        .await;
    assert_eq!(cross_site.status, 403);
    assert_eq!(
        state_of(&stack, &id).await,
        governance::ReviewState::Inventoried
    );

    // With it, the nomination is made and the record says so.
    let nominated = browser
        .post(&nominate, &[("csrf", &csrf), fields[0], fields[1]])
        .await;
    assert_eq!(nominated.status, 303, "{}", nominated.body);
    assert_eq!(
        nominated.header("location"),
        Some(format!("/staff/d/{id}?done=nominate").as_str())
    );
    let record = browser.get(&format!("/staff/d/{id}?done=nominate")).await;
    assert_contains(&record, "Done: nominate.");
    assert_contains(&record, "Nominated");
    assert_contains(&record, "Residents ask for it");

    // What the ADO may not do is refused by governance, shown on the record, and changes nothing.
    let publish = browser
        .post(&format!("/staff/d/{id}/publish"), &[("csrf", &csrf)])
        .await;
    assert_eq!(publish.status, 403, "{}", publish.body);
    assert_contains(&publish, "class=\"problem\"");
    let again = browser
        .post(&nominate, &[("csrf", &csrf), fields[0], fields[1]])
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_contains(&again, "nominated");
    let unknown_field = browser
        .post(
            &format!("/staff/d/{id}/withhold"),
            &[("csrf", &csrf), ("ground", "secrecy")],
        )
        .await;
    assert_eq!(unknown_field.status, 400);
    assert_contains(&unknown_field, "`secrecy` is not a ground");
    assert_eq!(
        state_of(&stack, &id).await,
        governance::ReviewState::Nominated
    );
    let audit = browser.get("/staff/audit").await;
    assert_eq!(
        audit.status, 403,
        "only the CDO and the panel read the audit log"
    );

    // The CDO reviews, approves and publishes through the pages; the public sees it.
    let mut cdo = Browser::new(&stack);
    cdo.sign_in(&stack.cdo_key().await).await;
    let desk = cdo.get("/staff").await;
    assert_contains(&desk, "Waiting for a decision (1)");
    let csrf = Browser::csrf(&desk);
    for step in ["start-review", "approve", "publish"] {
        let answer = cdo
            .post(
                &format!("/staff/d/{id}/{step}"),
                &[("csrf", &csrf), ("reason", "ok")],
            )
            .await;
        assert_eq!(answer.status, 303, "{step}: {}", answer.body);
    }
    stack.wait_public(&id, true).await;
    assert_eq!(get(&stack, &format!("/d/{id}")).await.status, 200);

    // Withheld with a ground and an explanation: gone for the public, explained on /transparency.
    let withheld = cdo
        .post(
            &format!("/staff/d/{id}/withhold"),
            &[
                ("csrf", &csrf),
                ("ground", "endangers_public"),
                ("explanation", "Locations of protected wells"),
                ("accessLevel", "non-public"),
            ],
        )
        .await;
    assert_eq!(withheld.status, 303, "{}", withheld.body);
    stack.wait_public(&id, false).await;
    assert_eq!(get(&stack, &format!("/d/{id}")).await.status, 404);
    assert_contains(
        &get(&stack, "/transparency").await,
        "<td>Publishing would endanger public health, safety or welfare</td><td>Locations of protected wells</td>",
    );
    let audit = cdo.get("/staff/audit").await;
    assert_eq!(audit.status, 200);
    for action in ["session.started", "dataset.withhold", "dataset.publish"] {
        assert_contains(&audit, action);
    }
    stack.stop().await;
}

#[tokio::test]
async fn sessions_end_at_sign_in_again_sign_out_expiry_and_revocation() {
    let stack = TestStack::start().await;
    let (id, ado) = opm_dataset_and_officer(&stack).await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let mut browser = Browser::new(&stack);
    browser.sign_in(&ado.secret).await;
    let mut cdo = Browser::new(&stack);
    cdo.sign_in(&stack.cdo_key().await).await;

    // Signing in again in the same browser ends the session it held.
    let first = cdo.cookie.clone();
    cdo.sign_in(&stack.cdo_key().await).await;
    let replaced = first
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches("od_session=")
        .to_owned();
    let api = send(&stack, "/api/admin/audit", Some(&replaced), None).await;
    assert_eq!(api.status, 401, "the first session ended: {}", api.body);
    let csrf = Browser::csrf(&cdo.get("/staff").await);

    // Signing out ends the session: the old cookie opens nothing, here or at the API.
    let old_cookie = cdo.cookie.clone();
    let signed_out = cdo.post("/staff/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(signed_out.status, 303);
    assert!(
        signed_out
            .header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    cdo.cookie = old_cookie;
    assert_contains(&cdo.get("/staff").await, "type=\"password\"");
    let session = cdo
        .cookie
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches("od_session=");
    let api = send(
        &stack,
        &format!("/api/admin/datasets/{id}"),
        Some(session),
        None,
    )
    .await;
    assert_eq!(api.status, 401, "{}", api.body);

    // A session past its lifetime (`staff_session_seconds`) opens nothing.
    let mut late = Browser::new(&stack);
    late.sign_in(&stack.cdo_key().await).await;
    assert_contains(&late.get("/staff").await, "Chief Data Officer");
    let secret = late
        .cookie
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches("od_session=")
        .to_owned();
    let aged = sqlx::query(
        "UPDATE governance.sessions SET created_at = now() - interval '9 hours', \
         expires_at = now() - interval '1 hour' WHERE hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&secret)
    .execute(&stack.pool)
    .await
    .expect("age the session")
    .rows_affected();
    assert_eq!(aged, 1, "the session is found by its hash");
    assert_contains(&late.get("/staff").await, "type=\"password\"");

    // Revoking the key ends the sessions started with it.
    admin
        .revoke_key(governance::RevokeKeyRequest {
            key_id: ado.key_id.clone(),
        })
        .await
        .expect("revoke");
    let after = browser.get(&format!("/staff/d/{id}")).await;
    assert_eq!(after.status, 303, "the revoked key's session is over");
    stack.stop().await;
}

#[tokio::test]
async fn the_annual_inventory_downloads_from_the_desk() {
    let stack = TestStack::start().await;
    let (id, ado) = opm_dataset_and_officer(&stack).await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;

    // Signed out, the download redirects to the sign-in page.
    let mut browser = Browser::new(&stack);
    let signed_out = browser.get("/staff/inventory.csv").await;
    assert_eq!(signed_out.status, 303);
    assert_eq!(signed_out.header("location"), Some("/staff"));

    // The ADO's desk links its agency's plan; the file has the dataset, never cached.
    browser.sign_in(&ado.secret).await;
    let desk = browser.desk_listing(&id).await;
    assert_contains(&desk, "href=\"/staff/inventory.csv\"");
    let csv = browser.get("/staff/inventory.csv").await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.header("content-disposition"),
        Some("attachment; filename=\"opm-inventory.csv\"")
    );
    assert_eq!(csv.header("cache-control"), Some("no-store"));
    assert!(
        csv.body.starts_with("dataset_id,title,agency_id"),
        "{}",
        csv.body
    );
    assert_contains(&csv, &format!("{id},"));
    assert_contains(&csv, ",inventoried,");
    let json = browser.get("/staff/inventory.json").await;
    assert_eq!(json.status, 200, "{}", json.body);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json.body).expect("JSON rows");
    assert!(
        rows.iter().any(|row| row["dataset_id"] == id.as_str()),
        "{rows:?}"
    );

    // Another agency's ADO gets its own (empty) plan, with its header row.
    let other = principal_with_key(&mut admin, "dot", Role::Ado, governance::KeyKind::ApiKey).await;
    let mut stranger = Browser::new(&stack);
    stranger.sign_in(&other.secret).await;
    let theirs = stranger.get("/staff/inventory.csv").await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert!(!theirs.body.contains(&id), "{}", theirs.body);
    assert!(theirs.body.starts_with("dataset_id,"), "{}", theirs.body);

    // The CDO's plan is every agency's.
    let mut cdo = Browser::new(&stack);
    cdo.sign_in(&stack.cdo_key().await).await;
    let all = cdo.get("/staff/inventory.csv").await;
    assert_eq!(
        all.header("content-disposition"),
        Some("attachment; filename=\"all-agencies-inventory.csv\"")
    );
    assert_contains(&all, &format!("{id},"));
    stack.stop().await;
}
