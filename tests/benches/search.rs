//! Search benchmark (`make bench`): 10,000 generated datasets with realistic metadata (CT agencies,
//! the portal's categories, titles, descriptions, tags and columns) on the release
//! `opendata up`, then, side by side with the targets:
//! - indexing: publishing all of them until every one is searchable (events, one at a time), and
//!   a full `Reindex` (bulk);
//! - p50/p99 latency of `/api/catalog/v1` searches through the edge at 16 concurrent clients
//!   (target p99 < 50 ms);
//! - the delay from a publish being committed to the dataset being found through the edge
//!   (target < 1 s).
//!
//! Runs the embedded engine always, and Meilisearch too when `OPENDATA_TEST_MEILI_URL` (and
//! `OPENDATA_TEST_MEILI_KEY`) name a server. `BENCH_DATASETS` changes the dataset count.

#![allow(clippy::print_stdout)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Waits until the search service's consumer of catalog events has nothing pending.
async fn wait_for_idle_consumer(prefix: &str) {
    let nats = async_nats::connect(opendata_testkit::nats_url())
        .await
        .unwrap();
    let jetstream = async_nats::jetstream::new(nats);
    let stream = format!("{}_OPENDATA_CATALOG", prefix.to_ascii_uppercase());
    let consumer = format!("{prefix}_search_catalog");
    loop {
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = jetstream
            .get_stream(&stream)
            .await
            .unwrap()
            .get_consumer(&consumer)
            .await
            .unwrap();
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
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

async fn run(label: &str, engine: &SearchEngine, datasets: usize) {
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

    // Latency at 16 concurrent clients through the edge.
    let edge = server.url("edge").to_owned();
    let mut workers = Vec::new();
    let load_started = Instant::now();
    for client_index in 0..CLIENTS {
        let edge = edge.clone();
        workers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut times = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for i in 0..REQUESTS_PER_CLIENT {
                let query = QUERIES[(client_index + i) % QUERIES.len()];
                let began = Instant::now();
                let response = http
                    .get(format!("{edge}/api/catalog/v1?{query}"))
                    .send()
                    .await
                    .unwrap();
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
    let load_seconds = load_started.elapsed().as_secs_f64();
    times.sort();

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

    let p50 = percentile(&times, 0.50);
    let p99 = percentile(&times, 0.99);
    let delay_p50 = percentile(&delays, 0.50);
    let delay_max = percentile(&delays, 1.0);
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!();
    println!("search benchmark, {label} engine, {datasets} datasets");
    println!(
        "  publish all, events until all searchable: {:>8.1} s ({:.0} datasets/s; publishing alone {:.1} s; remaining events drained {:.1} s later)",
        indexed.as_secs_f64(),
        datasets as f64 / indexed.as_secs_f64(),
        published.as_secs_f64(),
        backlog.as_secs_f64()
    );
    println!(
        "  full reindex (Reindex RPC):                {:>8.2} s ({:.0} datasets/s)",
        rebuilt.took_millis as f64 / 1000.0,
        datasets as f64 * 1000.0 / rebuilt.took_millis.max(1) as f64
    );
    println!(
        "  search via edge, {CLIENTS} clients, {} requests: p50 {p50:.1} ms, p99 {p99:.1} ms, {:.0} req/s   target p99 < {P99_TARGET_MS} ms: {}",
        times.len(),
        times.len() as f64 / load_seconds,
        verdict(p99 < P99_TARGET_MS)
    );
    println!(
        "  publish → searchable via edge, {DELAY_SAMPLES} samples: p50 {delay_p50:.0} ms, max {delay_max:.0} ms   target < {DELAY_TARGET_MS} ms: {}",
        verdict(delay_max < DELAY_TARGET_MS)
    );
    println!("  server peak memory: {memory:.0} MB");
    let _ = server;
    database.drop_all().await;
}

#[tokio::main]
async fn main() {
    let datasets: usize = std::env::var("BENCH_DATASETS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000);
    run("embedded", &SearchEngine::Embedded, datasets).await;
    match SearchEngine::meilisearch_from_env() {
        Some(engine) => run("meilisearch", &engine, datasets).await,
        None => println!("\nmeilisearch: skipped (set OPENDATA_TEST_MEILI_URL to run it)"),
    }
}
