// The portal's pages in a real browser: Playwright driving Debian's Chromium, headless, with
// axe-core checking WCAG 2.1 AA on every page, and screenshots at phone and desktop widths.
//
// Started by the `browser` scenario (tests/scenarios/browser.rs), which seeds a stack and passes:
//   OPENDATA_URL     the edge, e.g. http://127.0.0.1:8080
//   DATASET_ID       a published dataset of 25 towns ("Town Populations"), Population indexed
//   NOMINEE_ID       an inventoried dataset of agency opm, for the staff flow
//   ADO_KEY, CDO_KEY API keys of opm's Data Officer and of the Chief Data Officer
//   SCREENSHOTS      where to write the screenshots
//   CHROMIUM         the browser (default /usr/bin/chromium)
// Exits non-zero, naming the check, on the first failure.

import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("OPENDATA_URL");
const datasetId = env("DATASET_ID");
const nomineeId = env("NOMINEE_ID");
const screenshots = env("SCREENSHOTS");
mkdirSync(screenshots, { recursive: true });

const check = (condition, what) => {
  if (!condition) throw new Error(`check failed: ${what}`);
};

const widths = { phone: { width: 360, height: 800 }, desktop: { width: 1280, height: 900 } };

/** Runs axe-core on the page (WCAG 2.1 A and AA) and fails on any violation. */
async function accessible(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const violations = result.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`,
  );
  check(violations.length === 0, `axe on ${name}:\n  ${violations.join("\n  ")}`);
}

/** Checks the page at both widths (no sideways scrolling on phones) and saves screenshots. */
async function shoot(page, name) {
  for (const [width, size] of Object.entries(widths)) {
    await page.setViewportSize(size);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name} scrolls sideways by ${overflow}px at ${size.width}px`);
    await page.screenshot({ path: `${screenshots}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize(widths.desktop);
}

async function visit(page, path, name) {
  const response = await page.goto(base + path);
  check(response.status() === 200, `${path} answers 200, not ${response.status()}`);
  await accessible(page, name);
  await shoot(page, name);
  return response;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const publicContext = await browser.newContext({ acceptDownloads: true });
  const page = await publicContext.newPage();

  // Home: the first Tab reaches the skip link; search with a typo finds the dataset.
  await visit(page, "/", "home");
  await page.keyboard.press("Tab");
  check((await page.evaluate(() => document.activeElement.className)) === "skip", "Tab first reaches the skip link");
  // Suggestions as you type: titles from the autocompletion, in the box's list.
  await page.type("#home-q", "Town Pop");
  await page.waitForFunction(() => document.querySelectorAll("#home-q-suggestions option").length > 0);
  const suggestion = await page.getAttribute("#home-q-suggestions option", "value");
  check(suggestion.startsWith("Town Populations"), `a title is suggested: ${suggestion}`);
  await page.fill("#home-q", "popultions");
  await page.press("#home-q", "Enter");
  await page.waitForURL(/\/browse\?/);
  const result = page.locator(`a[href="/d/${datasetId}"]`).first();
  check((await result.count()) === 1, "the search with a typo finds the dataset");
  await accessible(page, "browse");
  await shoot(page, "browse");

  // The dataset page: the table sorts and pages by links, the query is shown, a download starts.
  await result.click();
  await page.waitForURL(`**/d/${datasetId}`);
  await accessible(page, "dataset");
  await shoot(page, "dataset");
  const firstCell = () => page.locator("#data ~ .scroll tbody tr:first-child td").nth(1).textContent();
  check((await firstCell()) === "1000", "the table starts with the first row");
  // With the script, the view changes in place: the page is not reloaded (this mark stays).
  await page.evaluate(() => { window.sameDocument = true; });
  await page.click('th a:has-text("Population")');
  await page.waitForURL(/order=population$/);
  check((await page.getAttribute('th[aria-sort]', "aria-sort")) === "ascending", "the sorted column says so");
  await page.click('th a:has-text("Population")');
  await page.waitForURL(/dir=desc/);
  check((await firstCell()) === "25000", "sorting by Population descending puts 25000 first");
  check(await page.evaluate(() => window.sameDocument === true), "sorting updates the table in place");
  check(await page.evaluate(() => document.activeElement.id === "data"), "the focus goes to the table's heading");
  await page.waitForFunction(() => document.querySelector("#view-status").textContent !== "");
  const spoken = await page.textContent("#view-status");
  check(spoken === `Sorted by Population, descending. ${await page.textContent(".pages span")}`, `the status line says what changed: ${spoken}`);
  // Back returns to the previous view, still in place.
  await page.goBack();
  await page.waitForURL(/order=population$/);
  await page.waitForFunction(() => document.querySelector('th[aria-sort]')?.getAttribute("aria-sort") === "ascending");
  check((await firstCell()) === "1000", "Back shows the ascending order again");
  await page.goForward();
  await page.waitForURL(/dir=desc/);
  await page.waitForFunction(() => document.querySelector('th[aria-sort]')?.getAttribute("aria-sort") === "descending");
  check(await page.evaluate(() => window.sameDocument === true), "Back and Forward stay in the page");
  const soql = await page.textContent(".soql code");
  check(soql.includes("%24order=population+DESC"), `the SoQL of the view is shown: ${soql}`);
  await page.click('a[rel~="next"]');
  await page.waitForURL(/page=2/);
  check((await firstCell()) === "5000", "the second page of the descending order starts at the 21st largest");
  // Filtering through the form keeps the order and narrows the rows.
  await page.click("details.filters summary");
  await page.fill('[name="min.population"]', "20000");
  await page.click('.filter-form button:has-text("Filter")');
  await page.waitForURL(/min.population=20000/);
  check((await firstCell()) === "25000" && (await page.textContent(".pages span")).includes("of 6"), "the filter keeps six towns, largest first");
  check(await page.evaluate(() => window.sameDocument === true), "filtering updates the table in place");
  await accessible(page, "dataset-filtered");
  await page.click('a:has-text("Clear the filters")');
  await page.waitForURL((url) => !url.search.includes("min.population"));
  // A chart, drawn on the server, renders in the page.
  await page.selectOption("#chart-by", "town");
  await page.selectOption("#chart-value", "sum.population");
  await page.click('button:has-text("Draw the chart")');
  await page.waitForURL(/chart.by=town/);
  await page.waitForFunction(() => [...document.querySelectorAll(".chart img")].every((img) => img.complete));
  const drawn = await page.evaluate(() => document.querySelector(".chart img").naturalWidth);
  check(drawn === 720, `the chart renders (${drawn}px wide)`);
  await accessible(page, "dataset-chart");
  await page.click('a:has-text("Map the rows")');
  await page.waitForURL(/map=/);
  check(new URL(page.url()).searchParams.get("chart.by") === "town", "the map link keeps the chart");
  await page.waitForFunction(() => [...document.querySelectorAll(".chart img")].every((img) => img.complete));
  const mapWidth = await page.evaluate(() => document.querySelector("#map ~ figure img")?.naturalWidth);
  check(mapWidth === 760, `the map over the 169 towns renders (${mapWidth}px wide)`);
  check(await page.evaluate(() => window.sameDocument === true), "the chart and the map update in place");
  await page.waitForFunction(() => document.querySelector("#view-status").textContent !== "");
  const mapSpoken = await page.textContent("#view-status");
  check(mapSpoken === await page.textContent("#map ~ figure figcaption"), `the status line reads out the map's caption: ${mapSpoken}`);
  await page.locator("#chart").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${screenshots}/dataset-chart-desktop.png` });
  const [download] = await Promise.all([page.waitForEvent("download"), page.click('a:has-text("CSV")')]);
  const csv = readFileSync(await download.path(), "utf8");
  check(csv.startsWith('"town","population"'), `the CSV download has the columns: ${csv.slice(0, 40)}`);
  // An answer that is not a view (a 400 naming the bad filter) is shown as the page it is.
  await page.click("details.filters summary");
  await page.fill('[name="min.population"]', "lots");
  await page.click('.filter-form button:has-text("Filter")');
  await page.waitForFunction(() => window.sameDocument !== true);
  const refusal = await page.textContent("main");
  check(refusal.includes('min.population is a number, not "lots"'), `the bad filter is named: ${refusal.slice(0, 200)}`);

  await visit(page, "/transparency", "transparency");
  await visit(page, "/transparency/freshness", "freshness");
  await visit(page, "/agency/opm", "agency");
  const missing = await page.goto(`${base}/d/zzzz-zzzz`);
  check(missing.status() === 404, "an unknown dataset is a 404 page");
  await accessible(page, "not-found");

  // The incentives explorer finds a company with a typo; its page sets promises against results.
  await visit(page, "/incentives", "incentives");
  await page.fill("#company", "acme precison");
  await page.click('button:has-text("Find awards")');
  await page.waitForURL(/company=acme/);
  await page.click('a:has-text("Acme Precision Tooling")');
  await page.waitForURL(/incentives\/company/);
  const company = await page.textContent("main");
  check(company.includes("Jobs promised") && company.includes("10 retained and 5 created") && company.includes("Jobs found"), "the company page shows jobs promised and found");
  await accessible(page, "incentives-company");
  await shoot(page, "incentives-company");

  // Staff: the ADO signs in and nominates.
  const ado = await (await browser.newContext()).newPage();
  await visit(ado, "/staff", "staff-sign-in");
  await ado.fill("#key", env("ADO_KEY"));
  await ado.click('button:has-text("Sign in")');
  await ado.waitForURL(`${base}/staff`);
  const [cookie] = await ado.context().cookies();
  check(cookie && cookie.httpOnly && cookie.sameSite === "Strict" && cookie.path === "/staff", `the session cookie is HttpOnly, SameSite=Strict, /staff: ${JSON.stringify(cookie)}`);
  check((await ado.evaluate(() => document.cookie)) === "", "scripts cannot read the session cookie");
  await accessible(ado, "staff-desk");
  await shoot(ado, "staff-desk");
  await ado.click(`a[href="/staff/d/${nomineeId}"]`);
  await accessible(ado, "staff-record");
  await shoot(ado, "staff-record");
  check((await ado.locator(`form[action$="/publish"]`).count()) === 0, "the ADO is not offered publishing");

  // A form whose CSRF token is not the session's is refused, and nothing changes.
  await ado.evaluate(() => { document.querySelector('form[action$="/nominate"] input[name="csrf"]').value = "0".repeat(32); });
  await ado.fill("#justification", "forged");
  const forged = await Promise.all([ado.waitForNavigation(), ado.click('button:has-text("Nominate")')]);
  check(forged[0].status() === 403, `a forged token is refused (${forged[0].status()})`);
  await ado.goto(`${base}/staff/d/${nomineeId}`);
  await ado.fill("#justification", "Residents ask for it");
  await ado.click('button:has-text("Nominate")');
  await ado.waitForURL(/done=nominate/);
  check((await ado.textContent("[role=status]")).includes("nominate"), "the nomination is confirmed");

  // The CDO takes it through review to publication; the public sees it; then withholds it.
  const cdo = await (await browser.newContext()).newPage();
  await cdo.goto(base + "/staff");
  await cdo.fill("#key", env("CDO_KEY"));
  await cdo.click('button:has-text("Sign in")');
  await cdo.waitForURL(`${base}/staff`);
  await cdo.click(`#queue ~ .scroll a[href="/staff/d/${nomineeId}"]`);
  for (const [button, done] of [["Start the review", "start-review"], ["Approve", "approve"], ["Publish", "publish"]]) {
    await cdo.click(`button:has-text("${button}")`);
    await cdo.waitForURL(new RegExp(`done=${done}`));
  }
  await accessible(cdo, "staff-record-published");
  let seen = 0;
  for (let attempt = 0; attempt < 60 && seen !== 200; attempt++) {
    seen = (await page.goto(`${base}/d/${nomineeId}`)).status();
    if (seen !== 200) await page.waitForTimeout(250);
  }
  check(seen === 200, "the public sees the dataset once published");
  await cdo.selectOption("#ground", "endangers_public");
  await cdo.fill("#explanation", "Locations of protected wells");
  await cdo.click('button:has-text("Withhold")');
  await cdo.waitForURL(/done=withhold/);
  for (let attempt = 0; attempt < 60 && seen !== 404; attempt++) {
    seen = (await page.goto(`${base}/d/${nomineeId}`)).status();
    if (seen !== 404) await page.waitForTimeout(250);
  }
  check(seen === 404, "a withheld dataset is not shown to the public");
  await page.goto(base + "/transparency");
  check((await page.textContent("main")).includes("Locations of protected wells"), "the withholding is explained on /transparency");
  await cdo.click('a:has-text("Audit log")');
  await accessible(cdo, "staff-audit");
  await shoot(cdo, "staff-audit");

  // Signing out ends the session.
  await cdo.click('button:has-text("Sign out")');
  await cdo.goto(base + "/staff");
  check((await cdo.locator("#key").count()) === 1, "after sign-out the staff pages ask to sign in");
  console.log(`browser checks passed; screenshots in ${screenshots}`);
} finally {
  await browser.close();
}
