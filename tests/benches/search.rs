//! Search benchmark (`make bench`): 10,000 generated datasets with realistic metadata (CT agencies,
//! the portal's categories, titles, descriptions, tags and columns) on the release
//! `opendata up`, then, side by side with the targets:
//! - indexing: publishing all of them until every one is searchable (events, applied in groups),
//!   and a full `Reindex` (streamed);
//! - p50/p99 latency of `/api/catalog/v1` searches through the edge at 16 concurrent clients
//!   (target p99 < 50 ms), and with Meilisearch the same searches sent straight to it, with the
//!   bodies the search service sends (target: edge p99 within 1.3× of Meilisearch's own);
//! - the delay from a publish being committed to the dataset being found through the edge
//!   (target < 1 s).
//!
//! Runs the embedded engine always, and Meilisearch too when `OPENDATA_TEST_MEILI_URL` (and
//! `OPENDATA_TEST_MEILI_KEY`) name a server, then prints both side by side (Meilisearch targets:
//! all searchable within 1.5× the embedded engine's time, full reindex < 3 s).
//! `BENCH_DATASETS` changes the dataset count.

#![allow(clippy::print_stdout)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opendata_edge::discovery::catalog_search;
use opendata_search::config::MeilisearchSettings;
use opendata_search::meili::MeiliBackend;
use opendata_search::synonyms::Synonyms;
use secrecy::SecretString;

use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Schema};
use opendata_proto::governance::v1 as governance;
use opendata_proto::search::v1::{ReindexRequest, SearchRequest};
use opendata_testkit::{
    Clients, SearchEngine, ServerProcess, TestDatabase, binary, review_to_published,
};
use tokio::sync::Semaphore;

use crate::common::{Random, cdo_review, percentile};

const CLIENTS: usize = 16;
const REQUESTS_PER_CLIENT: usize = 250;
const DELAY_SAMPLES: usize = 40;
const P99_TARGET_MS: f64 = 50.0;
const DELAY_TARGET_MS: f64 = 1000.0;
/// Meilisearch makes all datasets searchable within this many times the embedded engine's time.
const INDEXING_RATIO_TARGET: f64 = 1.5;
/// Meilisearch rebuilds the whole index in less than this.
const REINDEX_TARGET_S: f64 = 3.0;
/// Search p99 through the edge within this many times Meilisearch's own, same searches.
const DIRECT_RATIO_TARGET: f64 = 1.3;

const AGENCIES: &[(&str, &str)] = &[
    ("opm", "Office of Policy and Management"),
    ("decd", "Department of Economic and Community Development"),
    ("drs", "Department of Revenue Services"),
    ("dph", "Department of Public Health"),
    ("sde", "State Department of Education"),
    ("dot", "Department of Transportation"),
    ("deep", "Department of Energy and Environmental Protection"),
    ("dmv", "Department of Motor Vehicles"),
    (
        "desp",
        "Department of Emergency Services and Public Protection",
    ),
    ("dss", "Department of Social Services"),
    ("doh", "Department of Housing"),
    ("dol", "Department of Labor"),
    ("doc", "Department of Correction"),
    ("dcf", "Department of Children and Families"),
    ("sots", "Secretary of the State"),
    ("osc", "Office of the State Comptroller"),
    ("ott", "Office of the State Treasurer"),
    ("ocme", "Office of the Chief Medical Examiner"),
    ("dcp", "Department of Consumer Protection"),
    (
        "dmhas",
        "Department of Mental Health and Addiction Services",
    ),
];
const CATEGORIES: &[&str] = &[
    "Business",
    "Education",
    "Government",
    "Health and Human Services",
    "Housing and Development",
    "Public Safety",
    "Transportation",
    "Environment and Natural Resources",
    "Energy",
    "Recreation",
    "Local Government",
    "Labor",
];
const TOPICS: &[&str] = &[
    "Real Estate Sales",
    "Property Tax Credits",
    "School Enrollment",
    "Graduation Rates",
    "COVID-19 Vaccinations",
    "Hospital Admissions",
    "Motor Vehicle Registrations",
    "Traffic Crashes",
    "Bridge Inspections",
    "Water Quality Samples",
    "Air Quality Measurements",
    "Business Registrations",
    "Unemployment Claims",
    "State Employee Payroll",
    "Checkbook Payments",
    "Economic Development Grants",
    "Tax Credit Awards",
    "Affordable Housing Units",
    "Building Permits",
    "Fishing Licenses",
    "State Park Visits",
    "Electric Vehicle Charging Stations",
    "Energy Assistance Recipients",
    "Medicaid Enrollment",
    "SNAP Participation",
    "Correctional Facility Population",
    "Accidental Drug Related Deaths",
    "Licensed Professionals",
    "Election Results",
    "Municipal Fiscal Indicators",
];
const GEOGRAPHIES: &[&str] = &[
    "by Town",
    "by County",
    "by School District",
    "by Congressional District",
    "Statewide",
    "by Facility",
    "by Month",
    "by Industry",
];
const WORDS: &[&str] = &[
    "annual",
    "monthly",
    "reported",
    "data",
    "records",
    "including",
    "each",
    "municipality",
    "collected",
    "department",
    "program",
    "state",
    "federal",
    "total",
    "count",
    "rate",
    "residents",
    "households",
    "schools",
    "hospitals",
    "roads",
    "permits",
    "licenses",
    "fiscal",
    "year",
    "quarter",
    "updated",
    "source",
    "survey",
    "agency",
    "public",
    "grant",
    "loan",
    "assistance",
    "employment",
    "wages",
    "population",
    "income",
    "tax",
    "assessment",
    "inspection",
    "results",
    "compliance",
    "service",
    "providers",
    "locations",
    "vehicles",
    "energy",
    "water",
    "environment",
    "health",
    "safety",
    "education",
    "transportation",
];
const TAGS: &[&str] = &[
    "covid-19",
    "property",
    "tax",
    "education",
    "health",
    "transportation",
    "housing",
    "budget",
    "finance",
    "environment",
    "energy",
    "public safety",
    "employment",
    "grants",
    "licenses",
    "towns",
    "schools",
    "hospitals",
    "crashes",
    "water",
];
const COLUMNS: &[&str] = &[
    "Town",
    "County",
    "Year",
    "Month",
    "Date",
    "Amount",
    "Count",
    "Rate",
    "Category",
    "Status",
    "Address",
    "Location",
    "Name",
    "Type",
    "Program",
    "Facility",
    "District",
    "Age Group",
    "Gender",
    "Race",
    "Ethnicity",
    "Fiscal Year",
    "Payment Amount",
    "Vendor",
    "Fund",
];

/// Realistic metadata for dataset `n`.
fn metadata(random: &mut Random, n: usize) -> (String, catalog::DatasetMetadata, Schema) {
    let pick =
        |random: &mut Random, list: &[&'static str]| list[random.below(list.len() as u64) as usize];
    let (agency, _) = AGENCIES[random.below(AGENCIES.len() as u64) as usize];
    let start = 2000 + random.below(20);
    let title = format!(
        "{} {} {}-{} ({n})",
        pick(random, TOPICS),
        pick(random, GEOGRAPHIES),
        start,
        start + 1 + random.below(6)
    );
    let words = 30 + random.below(50);
    let description: Vec<&str> = (0..words).map(|_| pick(random, WORDS)).collect();
    let tags: Vec<String> = (0..2 + random.below(5))
        .map(|_| pick(random, TAGS).to_owned())
        .collect();
    let columns = (0..5 + random.below(10))
        .map(|i| Column {
            display_name: format!("{} {i}", pick(random, COLUMNS)),
            r#type: ColumnType::Text as i32,
            description: format!("The {} of the record", pick(random, WORDS)),
            ..Default::default()
        })
        .collect();
    (
        agency.to_owned(),
        catalog::DatasetMetadata {
            title,
            description: description.join(" "),
            keywords: tags,
            category: pick(random, CATEGORIES).to_owned(),
            ..Default::default()
        },
        Schema {
            columns,
            row_identifier: String::new(),
        },
    )
}

/// Runs `work(i)` for `0..count` with at most `parallel` at once.
async fn in_parallel<F, Fut>(count: usize, parallel: usize, work: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(parallel));
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let job = work(i);
        tasks.push(tokio::spawn(async move {
            job.await;
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Waits until the search service's consumers of catalog events (the shared one, or each
/// replica's own) have nothing pending.
async fn wait_for_idle_consumer(prefix: &str) {
    use futures::TryStreamExt as _;
    let nats = async_nats::connect(opendata_testkit::nats_url())
        .await
        .unwrap();
    let jetstream = async_nats::jetstream::new(nats);
    let stream = format!("{}_OPENDATA_CATALOG", prefix.to_ascii_uppercase());
    let consumers = format!("{prefix}_search_catalog");
    loop {
        let infos: Vec<_> = jetstream
            .get_stream(&stream)
            .await
            .unwrap()
            .consumers()
            .try_collect()
            .await
            .unwrap();
        let followers: Vec<_> = infos
            .iter()
            .filter(|info| info.name.starts_with(&consumers))
            .collect();
        assert!(!followers.is_empty(), "no consumer named {consumers}*");
        if followers
            .iter()
            .all(|info| info.num_pending == 0 && info.num_ack_pending == 0)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn total(clients: &Clients) -> u64 {
    clients
        .search
        .clone()
        .search(SearchRequest {
            limit: 1,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().total)
        .unwrap_or(0)
}

const QUERIES: &[&str] = &[
    "q=real+estate",
    "q=reel+estate",
    "q=school+enrollment",
    "q=covid",
    "q=tax+credit+awards&categories=Business",
    "q=water+quality&order=name",
    "q=vehicle+registrations+by+town",
    "q=hospital",
    "q=bridge&limit=10",
    "categories=Education&limit=20",
    "tags=housing",
    "q=unemployment+claims&tags=employment",
    "q=budjet",
    "q=electric+charging",
    "q=payroll&order=updatedAt",
    "q=fiscal",
];

async fn run(engine: &SearchEngine, datasets: usize) -> Figures {
    let database = TestDatabase::create().await;
    let admin_key = format!("odk_bench_{}", database.prefix);
    let prefix = format!("{}_", database.prefix);
    let mut settings: Vec<(&str, &str)> = vec![
        ("OPENDATA_EDGE__RATE_LIMITS__ENABLED", "false"),
        // Only the generated datasets are counted.
        ("OPENDATA_GOVERNANCE__PUBLIC_DATASETS__ENABLED", "false"),
    ];
    let (url, key);
    if let SearchEngine::Meilisearch { url: u, key: k } = engine {
        url = u.clone();
        key = k.clone().unwrap_or_default();
        settings.push(("OPENDATA_SEARCH__MEILISEARCH__URL", &url));
        settings.push(("OPENDATA_SEARCH__MEILISEARCH__INDEX_PREFIX", &prefix));
        if !key.is_empty() {
            settings.push(("OPENDATA_SEARCH__MEILISEARCH__API_KEY", &key));
        }
    }
    let server = ServerProcess::start(&binary("release"), &database, &admin_key, &settings).await;
    let admin = server.clients(Some(&admin_key));
    for (id, name) in AGENCIES {
        admin
            .identity
            .clone()
            .create_agency(governance::CreateAgencyRequest {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
            })
            .await
            .unwrap();
    }

    // Create every dataset (private), then publish them all and time until all are searchable.
    let mut random = Random(20_261_127);
    let generated: Vec<_> = (0..datasets).map(|n| metadata(&mut random, n)).collect();
    let generated = Arc::new(generated);
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); datasets]));
    in_parallel(datasets, 8, |n| {
        let mut catalog = admin.catalog.clone();
        let generated = generated.clone();
        let ids = ids.clone();
        async move {
            let (agency, metadata, schema) = generated[n].clone();
            let id = catalog
                .create_dataset(catalog::CreateDatasetRequest {
                    agency_id: agency,
                    metadata: Some(metadata),
                    schema: Some(schema),
                    id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .id;
            ids.lock().unwrap()[n] = id;
        }
    })
    .await;
    let ids: Vec<String> = ids.lock().unwrap().clone();
    let started = Instant::now();
    let cdo = cdo_review(&server, &admin_key).await;
    let publish = |id: String| {
        let mut review = cdo.clone();
        async move {
            review_to_published(&mut review, &id).await;
        }
    };
    in_parallel(datasets, 8, |n| publish(ids[n].clone())).await;
    let published = started.elapsed();
    while total(&admin).await < datasets as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let indexed = started.elapsed();
    // Each dataset had two events; the indexer may still be applying the later ones (harmlessly:
    // it re-reads the dataset each time). Measure the rest on a quiet system.
    let backlog_started = Instant::now();
    wait_for_idle_consumer(&database.prefix).await;
    let backlog = backlog_started.elapsed();

    // Latency at 16 concurrent clients through the edge, then (Meilisearch) the same searches
    // sent straight to Meilisearch, as the search service sends them.
    let edge = server.url("edge").to_owned();
    let catalog = format!("{edge}/api/catalog/v1");
    let direct_request = match engine {
        SearchEngine::Meilisearch { url, key } => {
            let bodies = meilisearch_requests(url, key.as_deref(), &prefix);
            let (url, key) = (url.clone(), key.clone());
            Some(Arc::new(
                move |http: &reqwest::Client, query: &'static str| {
                    let (uid, body) = &bodies[query];
                    let request = http
                        .post(format!("{url}/indexes/{uid}/search"))
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone());
                    match &key {
                        Some(key) => request.bearer_auth(key),
                        None => request,
                    }
                },
            ))
        }
        SearchEngine::Embedded => None,
    };
    // Meilisearch answers both runs from a warm cache: the direct queries go once before either.
    if let Some(request) = &direct_request {
        let http = reqwest::Client::new();
        for query in QUERIES {
            let response = request(&http, query).send().await.unwrap();
            assert_eq!(response.status(), 200, "{query}");
        }
    }
    let through_edge = load(move |http, query| http.get(format!("{catalog}?{query}"))).await;
    let direct = match direct_request {
        Some(request) => Some(load(move |http, query| request(http, query)).await),
        None => None,
    };

    // Publish → searchable through the edge.
    let http = reqwest::Client::new();
    let mut delays = Vec::with_capacity(DELAY_SAMPLES);
    for sample in 0..DELAY_SAMPLES {
        let marker = format!("quokka{sample}x{}", datasets);
        let id = admin
            .catalog
            .clone()
            .create_dataset(catalog::CreateDatasetRequest {
                agency_id: "opm".to_owned(),
                metadata: Some(catalog::DatasetMetadata {
                    title: format!("Sightings {marker}"),
                    description: "Delay probe".to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .id;
        publish(id.clone()).await;
        let began = Instant::now();
        loop {
            let body = http
                .get(format!("{edge}/api/catalog/v1?q={marker}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let results = body["results"].as_array().unwrap();
            if results.iter().any(|r| r["resource"]["id"] == id.as_str()) {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "{marker} never became searchable"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(began.elapsed());
    }
    delays.sort();
    let rebuilt = admin
        .search
        .clone()
        .reindex(ReindexRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rebuilt.documents, (datasets + DELAY_SAMPLES) as u64);
    let memory = server.peak_memory_bytes().unwrap_or(0) as f64 / 1_048_576.0;
    server.terminate();

    let figures = Figures {
        indexed,
        published,
        backlog,
        reindex: Duration::from_millis(rebuilt.took_millis),
        through_edge,
        direct,
        delay_p50: percentile(&delays, 0.50),
        delay_max: percentile(&delays, 1.0),
        memory_mb: memory,
    };
    database.drop_all().await;
    figures
}

/// Latencies of one load run.
struct Latency {
    p50: f64,
    p99: f64,
    per_second: f64,
}

/// Runs [`QUERIES`] from [`CLIENTS`] concurrent clients, [`REQUESTS_PER_CLIENT`] each, each
/// request made by `request` from a query string; every answer must be 200.
async fn load<F>(request: F) -> Latency
where
    F: Fn(&reqwest::Client, &'static str) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let mut workers = Vec::new();
    for client_index in 0..CLIENTS {
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut times = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for i in 0..REQUESTS_PER_CLIENT {
                let query = QUERIES[(client_index + i) % QUERIES.len()];
                let began = Instant::now();
                let response = request(&http, query).send().await.unwrap();
                assert_eq!(response.status(), 200, "{query}");
                response.bytes().await.unwrap();
                times.push(began.elapsed());
            }
            times
        }));
    }
    let mut times = Vec::new();
    for worker in workers {
        times.extend(worker.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    times.sort();
    Latency {
        p50: percentile(&times, 0.50),
        p99: percentile(&times, 0.99),
        per_second: times.len() as f64 / seconds,
    }
}

/// For each of [`QUERIES`], the index and body the search service sends Meilisearch for it (the
/// edge's own translation, then the engine's).
fn meilisearch_requests(
    url: &str,
    key: Option<&str>,
    prefix: &str,
) -> HashMap<&'static str, (String, Vec<u8>)> {
    let engine = MeiliBackend::new(
        &MeilisearchSettings {
            url: url.to_owned(),
            api_key: key.map(SecretString::from),
            index_prefix: prefix.to_owned(),
            task_timeout_secs: 30,
        },
        Synonyms::new(&[]),
    )
    .unwrap();
    QUERIES
        .iter()
        .map(|&query| {
            let search = catalog_search(Some(query), "localhost")
                .unwrap()
                .expect("the query searches this portal");
            let search = opendata_search::query::SearchQuery::from_proto(search).unwrap();
            let (uid, body) = engine.search_request(&search).unwrap();
            (query, (uid, serde_json::to_vec(&body).unwrap()))
        })
        .collect()
}

/// What one engine's run measured.
struct Figures {
    indexed: Duration,
    published: Duration,
    backlog: Duration,
    reindex: Duration,
    through_edge: Latency,
    direct: Option<Latency>,
    delay_p50: f64,
    delay_max: f64,
    memory_mb: f64,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

/// Prints the engines' figures side by side, with the targets.
fn report(datasets: usize, runs: &[(&str, Figures)]) {
    let column = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = runs
            .iter()
            .map(|(_, f)| format!("{:>24}", cell(f)))
            .collect();
        println!("  {label:<44}{}", cells.join(""));
    };
    println!();
    println!("search benchmark, {datasets} datasets, same machine, same run");
    let names: Vec<String> = runs.iter().map(|(name, _)| format!("{name:>24}")).collect();
    println!("  {:<44}{}", "", names.join(""));
    column("publish all → all searchable (s)", &|f| {
        format!(
            "{:.1} ({:.0}/s)",
            f.indexed.as_secs_f64(),
            datasets as f64 / f.indexed.as_secs_f64()
        )
    });
    column("  publishing alone (s)", &|f| {
        format!("{:.1}", f.published.as_secs_f64())
    });
    column("  all searchable after publishing ended (s)", &|f| {
        format!("{:.1}", (f.indexed - f.published).as_secs_f64())
    });
    column("  later events drained after (s)", &|f| {
        format!("{:.1}", f.backlog.as_secs_f64())
    });
    column("full reindex (s)", &|f| {
        format!("{:.2}", f.reindex.as_secs_f64())
    });
    column(
        &format!("search via edge, {CLIENTS} clients, p50/p99 (ms)"),
        &|f| format!("{:.1} / {:.1}", f.through_edge.p50, f.through_edge.p99),
    );
    column("  requests/s", &|f| {
        format!("{:.0}", f.through_edge.per_second)
    });
    column(
        "same searches straight to the engine p50/p99",
        &|f| match &f.direct {
            Some(direct) => format!("{:.1} / {:.1}", direct.p50, direct.p99),
            None => "-".to_owned(),
        },
    );
    column("  requests/s", &|f| match &f.direct {
        Some(direct) => format!("{:.0}", direct.per_second),
        None => "-".to_owned(),
    });
    column("  edge p99 ÷ engine p99", &|f| match &f.direct {
        Some(direct) => format!("{:.2}×", f.through_edge.p99 / direct.p99),
        None => "-".to_owned(),
    });
    column("publish → searchable via edge p50/max (ms)", &|f| {
        format!("{:.0} / {:.0}", f.delay_p50, f.delay_max)
    });
    column("server peak memory (MB)", &|f| {
        format!("{:.0}", f.memory_mb)
    });

    println!("  targets:");
    for (name, figures) in runs {
        println!(
            "    {name}: search p99 < {P99_TARGET_MS} ms: {}; publish → searchable < {DELAY_TARGET_MS} ms: {}",
            verdict(figures.through_edge.p99 < P99_TARGET_MS),
            verdict(figures.delay_max < DELAY_TARGET_MS),
        );
    }
    let embedded = runs.iter().find(|(name, _)| *name == "embedded");
    let meilisearch = runs.iter().find(|(name, _)| *name == "meilisearch");
    if let (Some((_, embedded)), Some((_, meili))) = (embedded, meilisearch) {
        let ratio = meili.indexed.as_secs_f64() / embedded.indexed.as_secs_f64();
        println!(
            "    meilisearch: all searchable within {INDEXING_RATIO_TARGET}× the embedded engine's time: {ratio:.2}× {}",
            verdict(ratio <= INDEXING_RATIO_TARGET)
        );
        println!(
            "    meilisearch: full reindex < {REINDEX_TARGET_S} s: {}",
            verdict(meili.reindex.as_secs_f64() < REINDEX_TARGET_S)
        );
        if let Some(direct) = &meili.direct {
            let ratio = meili.through_edge.p99 / direct.p99;
            println!(
                "    meilisearch: edge p99 within {DIRECT_RATIO_TARGET}× of Meilisearch direct: {ratio:.2}× {}",
                verdict(ratio <= DIRECT_RATIO_TARGET)
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let datasets: usize = std::env::var("BENCH_DATASETS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000);
    let mut runs = vec![("embedded", run(&SearchEngine::Embedded, datasets).await)];
    match SearchEngine::meilisearch_from_env() {
        Some(engine) => runs.push(("meilisearch", run(&engine, datasets).await)),
        None => println!("\nmeilisearch: skipped (set OPENDATA_TEST_MEILI_URL to run it)"),
    }
    report(datasets, &runs);
}
