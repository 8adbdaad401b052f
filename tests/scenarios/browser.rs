//! The pages in a real browser: seeds a stack, then runs `tests/browser/run.mjs` (Playwright
//! driving Debian's Chromium, axe-core on every page) against its edge. `make test` installs the
//! browser and the locked npm packages first (`scripts/browser-deps.sh`). Screenshots of each page
//! at phone and desktop widths are written to `target/screenshots/`.

use std::path::Path;

use opendata_proto::common::v1::{ColumnType, Role};
use opendata_proto::governance::v1 as governance;
use opendata_testkit::{TestStack, wait_until};

use crate::pages::towns;
use crate::support::{EVENTUALLY, column, create_dataset, get, key_for};

#[tokio::test]
async fn the_pages_work_in_a_real_browser() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and tests/browser/node_modules: run ./scripts/browser-deps.sh"
    );
    let stack = TestStack::start().await;
    let dataset = towns(&stack).await;
    wait_until(EVENTUALLY, "the dataset in search", || async {
        get(&stack, "/browse?q=popultions")
            .await
            .body
            .contains(&format!("/d/{dataset}"))
            .then_some(())
    })
    .await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let nominee = create_dataset(
        &stack,
        &publisher,
        "opm",
        vec![column("Well", ColumnType::Text)],
        "",
    )
    .await;
    let cdo = stack.cdo_key().await;
    wait_until(EVENTUALLY, "the nominee in the inventory", || async {
        let request = governance::GetInventoryRecordRequest {
            dataset_id: nominee.clone(),
        };
        let mut review = stack.clients(Some(&cdo)).review;
        review.get_inventory_record(request).await.ok().map(|_| ())
    })
    .await;

    let mut decd = crate::incentives::decd(&stack).await;
    crate::incentives::record(
        &mut decd.client,
        crate::incentives::award(
            "Acme Precision Tooling",
            "Hartford",
            2017,
            250_000,
            0,
            "maa",
        ),
    )
    .await;
    wait_until(EVENTUALLY, "the award in search", || async {
        let found = get(&stack, "/api/incentives/awards?company=acme+precison").await;
        (found.json()["total"] == 1).then_some(())
    })
    .await;

    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("run.mjs"))
        .env("OPENDATA_URL", stack.edge_url())
        .env("DATASET_ID", &dataset)
        .env("NOMINEE_ID", &nominee)
        .env("ADO_KEY", key_for(&stack, "opm", Role::Ado).await)
        .env("CDO_KEY", &cdo)
        .env("SCREENSHOTS", &screenshots)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "browser checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    stack.stop().await;
}
