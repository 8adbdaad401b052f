//! Socrata's write API (`POST`/`PUT /resource/{id}.json|.csv`) as agencies' scripts call it: the
//! real `sodapy` from PyPI (scripts/python-clients.sh) replaces and upserts JSON and CSV rows,
//! deletes with `:deleted`, and is refused a row that does not fit; the edge refuses callers
//! without a key, keys of another agency and bodies that are not rows or are too large.

use opendata_proto::common::v1::Role;
use opendata_testkit::TestStack;
use serde_json::{Value, json};

use crate::support::*;

/// The virtual environment `scripts/python-clients.sh` makes (`make test` runs it).
const PYTHON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/python-clients/bin/python"
);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/soda_write.py");

#[tokio::test]
async fn sodapy_replaces_upserts_and_deletes_through_the_write_api() {
    let stack = TestStack::start().await;
    let (key, dataset) = amounts_by_town(&stack).await;
    // Dataset ids are random: the file is this test's alone, and removed once read.
    let csv = std::env::temp_dir().join(format!("opendata-{dataset}-upsert.csv"));
    std::fs::write(
        &csv,
        "town,amount,:deleted\nEnfield,5,\nDarien,,true\nAvon,1,\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(PYTHON)
        .arg(SCRIPT)
        .arg(stack.edge_url().trim_start_matches("http://"))
        .arg(&key)
        .arg(&dataset)
        .arg(&csv)
        .output()
        .await
        .expect("run sodapy (scripts/python-clients.sh installs it)");
    std::fs::remove_file(&csv).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let calls: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let call = |name: &str| -> &Value {
        calls
            .iter()
            .find(|call| call["call"] == name)
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
    };
    let report = |created: u64, updated: u64, deleted: u64| {
        json!({
            "By RowIdentifier": updated + deleted, "By SID": 0, "Errors": 0,
            "Rows Created": created, "Rows Deleted": deleted, "Rows Updated": updated,
        })
    };
    assert_eq!(call("replace")["response"], report(3, 0, 0), "{stdout}");
    assert_eq!(call("upsert")["response"], report(1, 1, 1), "{stdout}");
    // Avon is sent unchanged: it counts in neither.
    assert_eq!(call("upsert csv")["response"], report(1, 0, 1), "{stdout}");
    let refused = call("bad value")["error"].as_str().unwrap();
    assert!(refused.starts_with("400 Client Error"), "{refused}");
    assert!(
        refused.contains("row 1, column amount: not a number (`many`)"),
        "{refused}"
    );
    // sodapy reads our rows back (what it read depends on when the catalog made the last
    // version current); the rows, once it is:
    assert!(call("read")["response"].is_array(), "{stdout}");
    wait_for_version(&stack, &dataset, 3).await;
    let read = get(&stack, &format!("/resource/{dataset}.json?$order=town"))
        .await
        .json();
    let rows: Vec<(String, String)> = read
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["town"].as_str().unwrap().to_owned(),
                row["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [("Avon", "1"), ("Bristol", "20"), ("Enfield", "5")];
    assert_eq!(rows, expected.map(|(t, a)| (t.to_owned(), a.to_owned())));
    // Three versions committed by the key's principal; the refused one wrote nothing.
    let history = get(&stack, &format!("/api/views/{dataset}/versions"))
        .await
        .json();
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3, "{history}");
    assert_eq!(versions[0]["mode"], "upsert");
    assert_eq!(versions[2]["mode"], "replace");
    stack.stop().await;
}

#[tokio::test]
async fn writes_need_the_agencys_key_and_rows_within_their_limits() {
    let stack = TestStack::start().await;
    let (key, dataset) = amounts_by_town(&stack).await;
    let path = format!("/resource/{dataset}.json");
    let rows = br#"[{"town": "Avon", "amount": "1"}]"#.to_vec();
    let post = |headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let stack = &stack;
        let path = path.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            request(stack, reqwest::Method::POST, &path, &headers, body).await
        }
    };
    let bearer = |key: &str| ("authorization", format!("Bearer {key}"));

    let anonymous = post(vec![], rows.clone()).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert!(
        anonymous.body.contains("needs an API key"),
        "{}",
        anonymous.body
    );
    let wrong = post(
        vec![("authorization", "Bearer odk_nonsense".to_owned())],
        rows.clone(),
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let other = key_for(&stack, "dot", Role::Publisher).await;
    let foreign = post(vec![bearer(&other)], rows.clone()).await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);

    let not_rows = post(vec![bearer(&key)], br#"{"town": "Avon"}"#.to_vec()).await;
    assert_eq!(not_rows.status, 400, "{}", not_rows.body);
    assert!(
        not_rows.body.contains("not a JSON array of rows"),
        "{}",
        not_rows.body
    );
    let unknown = post(vec![bearer(&key)], br#"[{"village": "Avon"}]"#.to_vec()).await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(unknown.body.contains("village"), "{}", unknown.body);
    let huge = format!(
        "[{}]",
        vec![r#"{"town": "Avon", "amount": "1"}"#; 140_000].join(",")
    );
    let too_large = post(vec![bearer(&key)], huge.into_bytes()).await;
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    assert!(
        too_large.body.contains("write_json_bytes"),
        "{}",
        too_large.body
    );
    // An upsert of no rows changes nothing; a replace with none would empty the dataset.
    let nothing = post(vec![bearer(&key)], b"[]".to_vec()).await;
    assert_eq!(nothing.status, 200, "{}", nothing.body);
    assert_eq!(nothing.json()["Rows Created"], 0);
    let authorized = format!("Bearer {key}");
    let emptied = request(
        &stack,
        reqwest::Method::PUT,
        &path,
        &[("authorization", &authorized)],
        b"[]".to_vec(),
    )
    .await;
    assert_eq!(emptied.status, 409, "{}", emptied.body);
    assert!(emptied.body.contains("would empty it"), "{}", emptied.body);
    let form = post(
        vec![bearer(&key), ("content-type", "text/plain".to_owned())],
        rows.clone(),
    )
    .await;
    assert_eq!(form.status, 400, "{}", form.body);
    assert_eq!(
        form.json()["data"]["parameter"],
        "Content-Type",
        "{}",
        form.body
    );
    // A CSV row that does not fit is named by its line.
    let csv_path = format!("/resource/{dataset}.csv");
    let bad_line = request(
        &stack,
        reqwest::Method::POST,
        &csv_path,
        &[("authorization", &authorized), ("content-type", "text/csv")],
        b"town,amount\nAvon,1\nBristol,lots\n".to_vec(),
    )
    .await;
    assert_eq!(bad_line.status, 400, "{}", bad_line.body);
    assert!(
        bad_line
            .body
            .contains("line 3, column amount: not a number"),
        "{}",
        bad_line.body
    );

    // None of that wrote a version. The first rows, by upsert: the last row for an identifier
    // wins, so Avon (sent, then deleted) is not created.
    let history = get(&stack, &format!("/api/views/{dataset}/versions"))
        .await
        .json();
    assert_eq!(
        history["versions"].as_array().unwrap().len(),
        0,
        "{history}"
    );
    let first = post(
        vec![bearer(&key)],
        br#"[{"town": "Avon", "amount": "1"}, {"town": "Avon", ":deleted": true},
             {"town": "Bristol", "amount": "2"}]"#
            .to_vec(),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.json(),
        json!({"By RowIdentifier": 0, "By SID": 0, "Errors": 0,
               "Rows Created": 1, "Rows Deleted": 0, "Rows Updated": 0})
    );
    let written = post(vec![bearer(&key)], rows).await;
    assert_eq!(written.status, 200, "{}", written.body);
    assert_eq!(written.json()["Rows Created"], 1);
    wait_for_version(&stack, &dataset, 2).await;
    let towns = get(&stack, &format!("/resource/{dataset}.json?$order=town"))
        .await
        .json();
    assert_eq!(towns.as_array().unwrap().len(), 2, "{towns}");
    stack.stop().await;
}
