//! The web pages, through the edge as a browser asks for them: home and search find a dataset
//! with a typo, facets and orders are links, the dataset page shows its metadata, columns and
//! rows (sorted and paged by links, the SoQL shown), every value is escaped, a withheld dataset
//! is not found, Socrata's long links redirect, and every page carries a strict CSP.

use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Role, Schema};
use opendata_proto::governance::v1::RetireRequest;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestOptions, TestStack, wait_until};

use crate::support::{
    EVENTUALLY, HttpResponse, column, create_described, get, key_for, publish, push, unpublish,
    wait_for_version,
};

/// A published dataset of 25 towns with a title that tries to inject markup.
pub(crate) async fn towns(stack: &TestStack) -> String {
    let key = key_for(stack, "opm", Role::Publisher).await;
    let metadata = catalog::DatasetMetadata {
        title: "Town Populations <script>alert(1)</script>".to_owned(),
        description: "Residents counted by town, \"quoted\" & escaped.".to_owned(),
        category: "Government".to_owned(),
        keywords: vec!["census".to_owned()],
        ..Default::default()
    };
    let schema = Schema {
        columns: vec![
            column("Town", ColumnType::Text),
            // Only indexed columns order the table.
            Column {
                indexed: true,
                ..column("Population", ColumnType::Number)
            },
        ],
        row_identifier: String::new(),
    };
    let id = create_described(stack, &key, "opm", metadata, schema).await;
    let mut file = String::from("Town,Population\n");
    for n in 1..=25 {
        file.push_str(&format!("Town {n:02},{}\n", n * 1000));
    }
    push(stack, &key, &id, UploadMode::Replace, file.as_bytes()).await;
    wait_for_version(stack, &id, 1).await;
    publish(stack, &id).await;
    id
}

/// A published dataset of opm titled `title`, with `columns` and the rows of CSV `file`.
async fn published_file(
    stack: &TestStack,
    title: &str,
    columns: Vec<Column>,
    file: &str,
) -> String {
    let key = key_for(stack, "opm", Role::Publisher).await;
    let metadata = catalog::DatasetMetadata {
        title: title.to_owned(),
        ..Default::default()
    };
    let schema = Schema {
        columns,
        row_identifier: String::new(),
    };
    let id = create_described(stack, &key, "opm", metadata, schema).await;
    push(stack, &key, &id, UploadMode::Replace, file.as_bytes()).await;
    wait_for_version(stack, &id, 1).await;
    publish(stack, &id).await;
    id
}

/// Fails, showing the page, unless it contains `text`.
fn assert_contains(page: &HttpResponse, text: &str) {
    assert!(page.body.contains(text), "{text:?} not in {}", page.body);
}

fn assert_page(page: &HttpResponse, status: u16) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(!page.body.contains("<script>"), "nothing unescaped");
}

#[tokio::test]
async fn residents_find_and_read_a_dataset_in_pages() {
    // Governance keeps its public freshness dataset, the source of the freshness badge.
    let stack = TestStack::start_with(TestOptions {
        public_governance_datasets: true,
        ..TestOptions::default()
    })
    .await;
    let id = towns(&stack).await;

    // Search with a typo finds it, once indexed; the result links to its page.
    let found = wait_until(
        EVENTUALLY,
        "the dataset to be found by the search page",
        || async {
            let page = get(&stack, "/browse?q=popultions").await;
            page.body.contains(&format!("/d/{id}")).then_some(page)
        },
    )
    .await;
    assert_page(&found, 200);
    assert!(
        found.body.contains("Town Populations &#60;script&#62;"),
        "{}",
        found.body
    );
    assert!(
        found.body.contains("category=Government\""),
        "facets are links: {}",
        found.body
    );

    let home = get(&stack, "/").await;
    assert_page(&home, 200);
    assert!(home.body.contains(&format!("/d/{id}")), "recently updated");

    // The dataset page: metadata, columns, the first 20 rows and the query behind them.
    let page = get(&stack, &format!("/d/{id}")).await;
    assert_page(&page, 200);
    assert!(
        page.body
            .contains("Residents counted by town, &#34;quoted&#34; &#38; escaped."),
        "{}",
        page.body
    );
    assert_contains(&page, "Rows 1–20 of 25");
    assert!(page.body.contains("<td>Town 01</td>"));
    assert!(!page.body.contains("<td>Town 21</td>"));
    assert!(
        page.body
            .contains(&format!("/resource/{id}.json?%24limit=20")),
        "the SoQL shown: {}",
        page.body
    );
    assert!(page.body.contains(&format!("href=\"/resource/{id}.csv\"")));
    for snippet in [
        "curl ",
        "from sodapy import Socrata",
        "read.socrata(",
        "soda.Consumer(",
    ] {
        assert!(page.body.contains(snippet), "the API panel has {snippet}");
    }

    // Its freshness, from governance's public freshness dataset, once computed.
    let fresh = wait_until(EVENTUALLY, "the freshness badge", || async {
        let page = get(&stack, &format!("/d/{id}")).await;
        page.body
            .contains("class=\"badge current\"")
            .then_some(page)
    })
    .await;
    assert_contains(&fresh, "On time");
    assert_contains(&fresh, "next update due 20");

    // Sorted by a column and paged, by links.
    let descending = get(&stack, &format!("/d/{id}?order=population&dir=desc")).await;
    assert_contains(&descending, "aria-sort=\"descending\"");
    assert_contains(&descending, "%24order=population+DESC");
    let position = |town: &str| descending.body.find(town).expect("the town is shown");
    assert!(position("<td>Town 25</td>") < position("<td>Town 24</td>"));
    let sorted = get(&stack, &format!("/d/{id}?order=population&page=2")).await;
    assert_page(&sorted, 200);
    assert_contains(&sorted, "Rows 21–25 of 25");
    assert!(sorted.body.contains("<td>Town 25</td>"));
    assert!(
        sorted.body.contains("rel=\"nofollow\""),
        "sorted views are not for crawlers"
    );
    // Filtered by the columns' types: the count, the rows and the query follow; links keep them.
    let filtered = get(
        &stack,
        &format!("/d/{id}?min.population=5000&max.population=7000&has.town=&order=population"),
    )
    .await;
    assert_page(&filtered, 200);
    assert_contains(&filtered, "Rows 1–3 of 3");
    assert_contains(&filtered, "<td>Town 05</td>");
    assert!(
        !filtered.body.contains("<td>Town 08</td>"),
        "{}",
        filtered.body
    );
    assert_contains(
        &filtered,
        "population+%3E%3D+5000+AND+population+%3C%3D+7000",
    );
    assert_contains(&filtered, "value=\"5000\"");
    assert_contains(&filtered, "<details class=\"filters\" open>");
    let text = get(&stack, &format!("/d/{id}?has.town=wn+1")).await;
    assert_contains(&text, "Rows 1–10 of 10");
    let api = get(
        &stack,
        &format!("/resource/{id}.json?$where=upper(town) like '%25WN 1%25'&$select=count(*) AS n"),
    )
    .await;
    assert_eq!(api.json()[0]["n"], "10", "the page's count is the API's");
    // A chart of the filtered rows: a picture drawn on the server, its figures as a table.
    let charted = get(
        &stack,
        &format!("/d/{id}?chart.by=town&chart.value=sum.population&min.population=20000"),
    )
    .await;
    assert_page(&charted, 200);
    let src = format!(
        "/d/{id}/chart.svg?chart.by=town&#38;chart.value=sum.population&#38;min.population=20000"
    );
    assert_contains(&charted, &format!("<img src=\"{src}\""));
    assert_contains(&charted, "<td>Town 25</td><td>25000</td>");
    assert!(
        !charted.body.contains("<td>Town 19</td><td>"),
        "filtered out"
    );
    let picture = get(&stack, &src.replace("&#38;", "&")).await;
    assert_eq!(picture.status, 200, "{}", picture.body);
    assert_eq!(picture.header("content-type"), Some("image/svg+xml"));
    assert!(picture.body.starts_with("<svg"), "{}", picture.body);
    assert!(picture.body.contains("Sum of Population by Town"));
    assert_eq!(
        picture.body.matches("<rect").count(),
        1 + 6,
        "a background and six bars"
    );
    // Of the 25 towns, the chart draws the largest `page_chart_groups`.
    let all = get(&stack, &format!("/d/{id}/chart.svg?chart.by=town")).await;
    assert_eq!(
        all.body.matches("<rect").count(),
        1 + opendata_limits::PAGE_CHART_GROUPS.get()
    );
    for query in ["chart.by=nope", "chart.by=town&chart.value=sum.town"] {
        assert_page(&get(&stack, &format!("/d/{id}?{query}")).await, 400);
        assert_eq!(
            get(&stack, &format!("/d/{id}/chart.svg?{query}"))
                .await
                .status,
            400
        );
    }
    for (query, named) in [
        ("min.population=many", "min.population is a number"),
        ("has.population=1", "population filters by min and max"),
        ("has.nope=1", "unknown parameter has.nope"),
        ("order=nope", "&#34;nope&#34; is not one"),
        ("order=population&dir=up", "dir is asc or desc"),
        ("order=town", "&#34;town&#34; is not one"),
        ("page=501", "page is a number from 1 to 500"),
    ] {
        let refused = get(&stack, &format!("/d/{id}?{query}")).await;
        assert_page(&refused, 400);
        assert!(refused.body.contains(named), "{query}: {}", refused.body);
    }

    // Socrata's long links redirect; unknown and malformed ids are pages saying so.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let moved = client
        .get(format!(
            "{}/government/town-populations/{id}",
            stack.edge_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(moved.headers()["location"], format!("/d/{id}").as_str());
    assert_page(&get(&stack, "/d/zzzz-9999").await, 404);
    assert_page(&get(&stack, "/d/not-an-id").await, 404);
    assert_page(&get(&stack, "/browse?page=0").await, 400);
    let too_many = "tags=a&".repeat(11);
    let refused = get(&stack, &format!("/browse?{too_many}")).await;
    assert_page(&refused, 400);
    assert_contains(&refused, "at most 10 filters");
    let long = get(&stack, &format!("/browse?q={}", "x".repeat(2100))).await;
    assert_page(&long, 400);
    // The API's own prefixes keep their JSON 404s; other methods too.
    let api = get(&stack, "/api/catalog/abcd-1234").await;
    assert_eq!(api.status, 404);
    assert!(api.body.starts_with('{'), "{}", api.body);
    let posted = reqwest::Client::new()
        .post(format!(
            "{}/government/town-populations/{id}",
            stack.edge_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 404);

    // A retired dataset is listed with why and what replaces it, once governance recomputes its
    // public list.
    let key = key_for(&stack, "opm", Role::Publisher).await;
    let old = create_described(
        &stack,
        &key,
        "opm",
        catalog::DatasetMetadata {
            title: "Old Town Counts".to_owned(),
            ..Default::default()
        },
        Schema::default(),
    )
    .await;
    publish(&stack, &old).await;
    stack
        .clients(Some(&stack.cdo_key().await))
        .review
        .retire(RetireRequest {
            dataset_id: old.clone(),
            reason: "replaced by the new counts".to_owned(),
            successor_dataset_id: id.clone(),
        })
        .await
        .expect("retire");
    wait_until(
        EVENTUALLY,
        "the retirement on the transparency page",
        || async {
            let page = get(&stack, "/transparency").await;
            (page.body.contains("<td>replaced by the new counts</td>")
                && page.body.contains(&format!("<a href=\"/d/{id}\">{id}</a>")))
            .then_some(())
        },
    )
    .await;

    // The agency's page: its datasets, its inventory by state, whether it keeps them up to date;
    // the freshness dashboard counts every agency's.
    let agency = get(&stack, "/agency/opm").await;
    assert_page(&agency, 200);
    assert_contains(&agency, "<h1>Agency opm</h1>");
    assert_contains(&agency, &format!("href=\"/d/{id}\""));
    assert_contains(&agency, "<td>Published</td><td>1</td>");
    assert_contains(&agency, "<td>Retired</td><td>1</td>");
    assert_contains(&agency, "1 on time · 0 update due · 0 stale");
    let dashboard = get(&stack, "/transparency/freshness").await;
    assert_page(&dashboard, 200);
    assert_contains(
        &dashboard,
        "<a href=\"/agency/opm#freshness\">Agency opm</a></td><td>1</td><td>0</td>",
    );
    for unknown in ["/agency/nope", "/agency/opm%27%20or%20%271"] {
        assert_page(&get(&stack, unknown).await, 404);
    }

    // Withheld: its page is gone for the public.
    unpublish(&stack, &id).await;
    assert_page(&get(&stack, &format!("/d/{id}")).await, 404);
    // The agency's page counts it by ground and says why.
    let agency = get(&stack, "/agency/opm").await;
    assert_contains(
        &agency,
        "<td>Publishing would hinder the operation of government</td><td>1</td>",
    );
    assert_contains(
        &agency,
        "&#60;/script&#62;</strong> (Publishing would hinder the operation of government, since ",
    );
    assert_contains(&agency, "under revision");
    // ...and the transparency page lists the withheld one, with the written explanation.
    let transparency = get(&stack, "/transparency").await;
    assert_page(&transparency, 200);
    assert!(
        transparency
            .body
            .contains("Town Populations &#60;script&#62;"),
        "{}",
        transparency.body
    );
    assert_contains(
        &transparency,
        "<td>Publishing would hinder the operation of government</td><td>under revision</td><td>non-public</td>",
    );
    // Since when: today (yesterday, should the test cross midnight).
    let now = chrono::Utc::now();
    assert!(
        [now, now - chrono::Duration::days(1)].iter().any(|day| {
            let since = format!("<td>non-public</td><td>{}</td>", day.format("%B %-d, %Y"));
            transparency.body.contains(&since)
        }),
        "{}",
        transparency.body
    );

    // The stylesheet is served by the edge itself.
    let css = get(&stack, "/assets/site.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    for (script, uses) in [
        ("/assets/suggest.js", "/api/catalog/v1/autocomplete"),
        ("/assets/table.js", "history.pushState"),
    ] {
        let script = get(&stack, script).await;
        assert_eq!(script.status, 200);
        assert_eq!(
            script.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert!(script.body.contains(uses), "{uses}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn charts_by_a_date_column_draw_a_line_by_month() {
    let stack = TestStack::start().await;
    let columns = vec![
        column("Town", ColumnType::Text),
        column("Recorded", ColumnType::CalendarDate),
    ];
    let file = "Town,Recorded\nA,2021-01-05\nB,2021-01-20\nC,2021-03-02\nD,\n";
    let id = published_file(&stack, "Sales", columns, file).await;

    // Months oldest first, rows without a date left out; the picture is a line.
    let page = get(&stack, &format!("/d/{id}?chart.by=recorded")).await;
    assert_page(&page, 200);
    assert_contains(&page, "Rows by month of Recorded");
    assert_contains(
        &page,
        "<td>2021-01</td><td>2</td></tr><tr><td>2021-03</td><td>1</td>",
    );
    let picture = get(&stack, &format!("/d/{id}/chart.svg?chart.by=recorded")).await;
    assert_eq!(picture.status, 200, "{}", picture.body);
    assert!(picture.body.contains("<polyline"), "{}", picture.body);
    stack.stop().await;
}

#[tokio::test]
async fn maps_draw_points_or_towns_over_connecticut() {
    let stack = TestStack::start().await;
    let columns = vec![
        column("Town", ColumnType::Text),
        column("Location", ColumnType::Point),
    ];
    let file = "Town,Location\nHartford,POINT (-72.685 41.764)\nHartford,POINT (-72.69 41.77)\n\
                Mystic,POINT (-71.966 41.354)\nNew York,POINT (-74.0 40.7)\nBolton,\n";
    let id = published_file(&stack, "Sales", columns, file).await;

    // Offered, not drawn, until asked for: points, with towns one link away; the picture is the
    // edge's own.
    let page = get(&stack, &format!("/d/{id}")).await;
    assert_page(&page, 200);
    assert_contains(
        &page,
        &format!("<a href=\"/d/{id}?map=points#map\" rel=\"nofollow\">Map the rows"),
    );
    assert!(!page.body.contains("map.svg"), "{}", page.body);
    let page = get(&stack, &format!("/d/{id}?map=points")).await;
    assert_contains(&page, &format!("<img src=\"/d/{id}/map.svg?map=points\""));
    assert_contains(
        &page,
        &format!("<a href=\"/d/{id}?map=towns#map\">Map by town</a>"),
    );
    for wrong in ["map=points&map=towns", "chart.by=town&chart.by=town"] {
        assert_page(&get(&stack, &format!("/d/{id}?{wrong}")).await, 400);
    }
    let long = get(&stack, &format!("/d/{id}?has.town={}", "x".repeat(2_100))).await;
    assert_page(&long, 400);
    assert_contains(&long, "page_query_bytes");
    let long = get(
        &stack,
        &format!("/incentives?company={}", "x".repeat(2_100)),
    )
    .await;
    assert_page(&long, 400);
    assert_contains(&long, "page_query_bytes");
    let points = get(&stack, &format!("/d/{id}/map.svg?map=points")).await;
    assert_eq!(points.status, 200, "{}", points.body);
    assert_eq!(points.header("content-type"), Some("image/svg+xml"));
    assert_eq!(
        points.body.matches("<path").count(),
        169,
        "every town is drawn"
    );
    assert_eq!(
        points.body.matches("<circle").count(),
        3,
        "New York is off the map"
    );

    // By town: each town shaded by its rows (names as the Census spells them; others dropped).
    let towns = get(&stack, &format!("/d/{id}/map.svg?map=towns")).await;
    assert_contains(&towns, "<title>Hartford: 2</title>");
    assert_contains(&towns, "<title>Bolton: 1</title>");
    assert_contains(&towns, "<title>Andover: no rows</title>");
    // Filters apply to the map as to the table.
    let filtered = get(&stack, &format!("/d/{id}/map.svg?map=towns&has.town=hart")).await;
    assert_eq!(filtered.status, 200);
    assert_contains(&filtered, "<title>Hartford: 2</title>");
    assert_contains(&filtered, "<title>Bolton: no rows</title>");
    stack.stop().await;
}

#[tokio::test]
async fn filters_match_text_as_written_and_keyword_columns_work() {
    let stack = TestStack::start().await;
    let columns = vec![
        column("Town", ColumnType::Text),
        // `end` is a SoQL keyword: the pages quote it.
        column("End", ColumnType::Number),
    ];
    let file = "Town,End\n50%_off,1\n500 off,2\n5x0,3\n";
    let id = published_file(&stack, "Offers", columns, file).await;

    // `%` and `_` are not wildcards in a "contains" box.
    let literal = get(&stack, &format!("/d/{id}?has.town=50%25_")).await;
    assert_page(&literal, 200);
    assert_contains(&literal, "Rows 1–1 of 1");
    assert_contains(&literal, "<td>50%_off</td>");
    let keyword = get(
        &stack,
        &format!("/d/{id}?min.end=2&chart.by=town&chart.value=sum.end"),
    )
    .await;
    assert_page(&keyword, 200);
    assert_contains(&keyword, "Rows 1–2 of 2");
    assert_contains(&keyword, "<td>5x0</td><td>3</td>");
    stack.stop().await;
}
