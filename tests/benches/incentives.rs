//! Incentives benchmark (`make bench`): DECD's real awards plus 50,000 generated ones on the
//! release `opendata up`, then, side by side with the targets:
//! - recording them (`RecordAwards` in batches of 2,000) and the search service catching up;
//! - the median latency through the edge of a summary by municipality and fiscal year, repeated
//!   (cached until the awards change) and right after a change (computed), next to the same SQL
//!   run directly on the database (target < 50 ms);
//! - the median latency through the edge of a company-name search (search service, then the
//!   awards by id), next to the database's own text index the edge falls back to (target
//!   < 50 ms).
//!
//! `BENCH_AWARDS` changes the generated count.

#![allow(clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use opendata_proto::incentives::v1 as pb;
use opendata_proto::search::v1::SearchRequest;
use opendata_testkit::{ServerProcess, TestDatabase, binary};

use crate::common::percentile;

const TARGET_MS: f64 = 50.0;
const SAMPLES: usize = 200;
const CHANGED_SAMPLES: usize = 30;
const SUMMARY: &str = "/api/incentives/summary?by=municipality,fiscal_year";
const SUMMARY_SQL: &str = "SELECT municipality, fiscal_year, count(*), sum(grant_cents), \
    sum(loan_cents), sum(total_cents), sum(jobs_promised), sum(latest_actual_jobs) \
    FROM incentives.awards WHERE NOT withdrawn GROUP BY 1, 2 ORDER BY 1, 2";
const COMPANIES: &[&str] = &[
    "precision gears",
    "harbor biotech",
    "nutmeg software",
    "charter oak optics",
    "advance stores",
    "mystic aerospace",
    "americus dental",
    "summit analytics",
];

async fn searchable(server: &ServerProcess) -> u64 {
    server
        .clients(None)
        .search
        .search(SearchRequest {
            types: vec!["incentive_award".to_owned()],
            limit: 1,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().total)
        .unwrap_or(0)
}

/// `SAMPLES` sequential timings of `request`, sorted.
async fn timings<F, Fut>(mut request: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let began = Instant::now();
        request(i).await;
        times.push(began.elapsed());
    }
    times.sort();
    times
}

#[tokio::main]
async fn main() {
    let generated: usize = std::env::var("BENCH_AWARDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50_000);
    let database = TestDatabase::create().await;
    let admin_key = format!("odk_bench_{}", database.prefix);
    let settings = [
        ("OPENDATA_EDGE__RATE_LIMITS__ENABLED", "false"),
        ("OPENDATA_GOVERNANCE__PUBLIC_DATASETS__ENABLED", "false"),
    ];
    let server = ServerProcess::start(&binary("release"), &database, &admin_key, &settings).await;
    let connection = common::decd_connection(&server, &admin_key).await;
    let data = common::data_dir();
    let report = opendata::incentives::import(&connection, &data)
        .await
        .expect("import DECD's tables");
    let real: usize = report.awards.iter().map(|(_, n)| n).sum();
    let started = Instant::now();
    let today = chrono::Utc::now().date_naive();
    opendata::incentives::record_generated(&connection, generated, 38, today)
        .await
        .expect("record generated awards");
    let recorded = started.elapsed();
    let total = (real + generated) as u64;
    while searchable(&server).await < total {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "awards not searchable after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let indexed = started.elapsed();

    let edge = server.url("edge").to_owned();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let edge = edge.clone();
        async move {
            let response = http.get(format!("{edge}{path}")).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.bytes().await.unwrap();
        }
    };
    // Warm up, then measure.
    for path in [
        SUMMARY.to_owned(),
        format!("/api/incentives/awards?company={}", COMPANIES[0]),
    ] {
        get(path).await;
    }
    let summary = timings(|_| get(SUMMARY.to_owned())).await;
    // Right after a change: every summary is computed again.
    let mut writer = connection.incentives().unwrap();
    let mut changed = Vec::with_capacity(CHANGED_SAMPLES);
    for i in 0..CHANGED_SAMPLES {
        let mut fields = opendata::incentives::generate::awards(1, i as u64, today)
            .pop()
            .and_then(|award| award.fields)
            .unwrap();
        fields.company = format!("Benchmark Change {i}");
        writer
            .record_award(pb::RecordAwardRequest {
                fields: Some(fields),
            })
            .await
            .unwrap();
        let began = Instant::now();
        get(SUMMARY.to_owned()).await;
        changed.push(began.elapsed());
    }
    changed.sort();
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let direct = timings(|_| {
        let pool = pool.clone();
        async move {
            sqlx::query(SUMMARY_SQL).fetch_all(&pool).await.unwrap();
        }
    })
    .await;
    let search = timings(|i| {
        get(format!(
            "/api/incentives/awards?company={}",
            COMPANIES[i % COMPANIES.len()].replace(' ', "%20")
        ))
    })
    .await;
    let incentives = server.clients(None).incentives;
    let fallback = timings(|i| {
        let mut incentives = incentives.clone();
        async move {
            incentives
                .search_awards(pb::SearchAwardsRequest {
                    company: COMPANIES[i % COMPANIES.len()].to_owned(),
                    // The database's own matching, as when search cannot answer.
                    company_match: pb::CompanyMatch::Database as i32,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    })
    .await;
    let search_service = server.clients(None).search;
    let search_alone = timings(|i| {
        let mut search = search_service.clone();
        async move {
            search
                .search(SearchRequest {
                    query: COMPANIES[i % COMPANIES.len()].to_owned(),
                    types: vec!["incentive_award".to_owned()],
                    limit: opendata_limits::AWARD_IDS.value as u32,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    })
    .await;
    let rows = sqlx::query(SUMMARY_SQL)
        .fetch_all(&pool)
        .await
        .unwrap()
        .len();
    pool.close().await;
    server.terminate();
    database.drop_all().await;

    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!();
    println!("incentives benchmark, {total} awards ({real} of DECD's real ones)");
    println!(
        "  record {generated} generated awards (RecordAwards, 2,000 per call): {:>6.1} s ({:.0} awards/s); all searchable after {:.1} s",
        recorded.as_secs_f64(),
        generated as f64 / recorded.as_secs_f64(),
        indexed.as_secs_f64()
    );
    let summary_p50 = percentile(&summary, 0.5);
    let changed_p50 = percentile(&changed, 0.5);
    println!(
        "  summary by municipality and fiscal year ({rows} groups) via edge, repeated: p50 {summary_p50:.1} ms, p90 {:.1} ms   target p50 < {TARGET_MS} ms: {}",
        percentile(&summary, 0.9),
        verdict(summary_p50 < TARGET_MS)
    );
    println!(
        "  the same summary right after a change ({CHANGED_SAMPLES} samples, computed): p50 {changed_p50:.1} ms   (same SQL direct: p50 {:.1} ms)   target p50 < {TARGET_MS} ms: {}",
        percentile(&direct, 0.5),
        verdict(changed_p50 < TARGET_MS)
    );
    let search_p50 = percentile(&search, 0.5);
    println!(
        "  company-name search via edge (search service): p50 {search_p50:.1} ms, p90 {:.1} ms   (the search service alone: p50 {:.1} ms; database fallback, gRPC: p50 {:.1} ms)   target p50 < {TARGET_MS} ms: {}",
        percentile(&search, 0.9),
        percentile(&search_alone, 0.5),
        percentile(&fallback, 0.5),
        verdict(search_p50 < TARGET_MS)
    );
}
