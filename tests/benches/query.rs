//! Query benchmark (`make bench`): on a 1,000,000-row dataset served by the release
//! `opendata up`, side by side in one run:
//! - `$where=town='Hartford'&$order=sale_amount DESC&$limit=1000`: median latency through the edge
//!   vs the same SQL run directly (target ≤ 1.5×);
//! - `$select=town, sum(sale_amount), count(*)&$group=town`: the same comparison;
//! - a full `/resource/{id}.csv` export in rows/s vs `psql \copy (select …) to stdout` (target
//!   ≥ 50%), with the server's peak memory (target < 150 MB);
//! - requests/s at 32 concurrent clients for the first query.
//!
//! `BENCH_ROWS` changes the row count; `BENCH_SAMPLES` the latency samples (default 50).

#![allow(clippy::print_stdout)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opendata_datastore::schema::Schema;
use opendata_soql::{Extensions, QueryRequest, Target, compile};
use opendata_testkit::{ServerProcess, TestDatabase, binary, review_to_published};
use sqlx::{Connection as _, PgConnection, Row as _};

use crate::common::{cdo_review, csv_rows, generate, push, setup};

const FILTERED: &str = "$where=town%3D%27Hartford%27&$order=sale_amount%20DESC&$limit=1000";
const GROUPED: &str = "$select=town,%20sum(sale_amount),%20count(*)&$group=town";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Median latency of a GET through the edge, reading the whole body.
async fn edge_latency(client: &reqwest::Client, url: &str, samples: usize) -> Duration {
    let mut times = Vec::with_capacity(samples);
    for index in 0..samples + 5 {
        let started = Instant::now();
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        assert!(!body.is_empty());
        if index >= 5 {
            times.push(started.elapsed());
        }
    }
    median(times)
}

/// Median latency of the same compiled SQL run directly on one connection.
async fn direct_latency(
    connection: &mut PgConnection,
    request: &QueryRequest,
    schema: &Schema,
    table: &str,
    samples: usize,
) -> Duration {
    let compiled = compile(request, schema, table, Target::Json, Extensions::default()).unwrap();
    let mut times = Vec::with_capacity(samples);
    for index in 0..samples + 5 {
        let started = Instant::now();
        let mut query = sqlx::query(&compiled.sql);
        for bind in &compiled.binds {
            query = query.bind(bind);
        }
        let rows = query.fetch_all(&mut *connection).await.unwrap();
        let mut bytes = 0;
        for row in &rows {
            for column in 0..row.len() {
                bytes += row
                    .try_get::<Option<String>, _>(column)
                    .unwrap()
                    .map_or(0, |v| v.len());
            }
        }
        assert!(bytes > 0);
        if index >= 5 {
            times.push(started.elapsed());
        }
    }
    median(times)
}

/// Rows per second of a full CSV export through the edge.
async fn edge_export(client: &reqwest::Client, url: &str) -> (u64, f64) {
    csv_rows(client.get(url)).await
}

/// Seconds `psql \copy (select …) to stdout` takes for the whole table.
fn psql_export(database: &TestDatabase, table: &str) -> f64 {
    let copy =
        format!("\\copy (SELECT * FROM data.\"{table}\") TO STDOUT WITH (FORMAT csv, HEADER true)");
    let started = Instant::now();
    let status = std::process::Command::new("psql")
        .args([database.url.as_str(), "-qc", &copy])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed().as_secs_f64()
}

/// Requests per second of `url` with `clients` concurrent clients for `duration`.
async fn throughput(url: &str, clients: usize, duration: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let done = done.clone();
            let url = url.to_owned();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                while Instant::now() < deadline {
                    let response = client.get(&url).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let file = generate(rows);
    println!("query benchmark: {rows} rows, {samples} samples per latency");

    let database = TestDatabase::create().await;
    let admin_key = format!("odk_bench_{}", database.prefix);
    let server = ServerProcess::start(
        &binary("release"),
        &database,
        &admin_key,
        &[("OPENDATA_EDGE__RATE_LIMITS__ENABLED", "false")],
    )
    .await;
    let (key, dataset) = setup(&server, &admin_key, &["Town"]).await;
    push(&server, &key, &dataset, &file).await;
    review_to_published(&mut cdo_review(&server, &admin_key).await, &dataset).await;
    let mut connection = PgConnection::connect(&database.url).await.unwrap();
    let (table, schema_json): (String, sqlx::types::Json<Schema>) = loop {
        let row: Option<(Option<String>, sqlx::types::Json<Schema>)> =
            sqlx::query_as("SELECT current_table, schema FROM catalog.datasets WHERE id = $1")
                .bind(&dataset)
                .fetch_optional(&mut connection)
                .await
                .unwrap();
        if let Some((Some(table), schema)) = row {
            break (table, schema);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let schema = schema_json.0;
    sqlx::raw_sql("ANALYZE")
        .execute(&mut connection)
        .await
        .unwrap();

    let edge = server.url("edge").to_owned();
    let client = reqwest::Client::new();
    let filtered_request = QueryRequest {
        where_clause: "town='Hartford'".into(),
        order: "sale_amount DESC".into(),
        limit: Some(1000),
        ..QueryRequest::default()
    };
    let grouped_request = QueryRequest {
        select: "town, sum(sale_amount), count(*)".into(),
        group: "town".into(),
        ..QueryRequest::default()
    };
    let filtered_edge = edge_latency(
        &client,
        &format!("{edge}/resource/{dataset}.json?{FILTERED}"),
        samples,
    )
    .await;
    let filtered_direct =
        direct_latency(&mut connection, &filtered_request, &schema, &table, samples).await;
    let grouped_edge = edge_latency(
        &client,
        &format!("{edge}/resource/{dataset}.json?{GROUPED}"),
        samples,
    )
    .await;
    let grouped_direct =
        direct_latency(&mut connection, &grouped_request, &schema, &table, samples).await;
    let (exported, export_seconds) = edge_export(
        &client,
        &format!("{edge}/resource/{dataset}.csv?$limit=100000000"),
    )
    .await;
    assert_eq!(exported, rows);
    let copy_seconds = psql_export(&database, &table);
    let peak = server.peak_memory_bytes().unwrap_or_default();
    let rps = throughput(
        &format!("{edge}/resource/{dataset}.json?{FILTERED}"),
        32,
        Duration::from_secs(10),
    )
    .await;
    drop(server);
    connection.close().await.unwrap();
    database.drop_all().await;

    println!();
    println!("{:<52} {:>10} {:>10} {:>8}", "", "edge", "direct", "ratio");
    for (name, edge, direct) in [
        (
            "town='Hartford' ORDER BY sale_amount DESC LIMIT 1000",
            filtered_edge,
            filtered_direct,
        ),
        (
            "town, sum(sale_amount), count(*) GROUP BY town",
            grouped_edge,
            grouped_direct,
        ),
    ] {
        println!(
            "{:<52} {:>8.2}ms {:>8.2}ms {:>7.2}x  (target <= 1.5x)",
            name,
            millis(edge),
            millis(direct),
            edge.as_secs_f64() / direct.as_secs_f64()
        );
    }
    let export_rate = rows as f64 / export_seconds;
    let copy_rate = rows as f64 / copy_seconds;
    println!();
    println!("{:<52} {:>10} {:>10} {:>8}", "", "rows/s", "seconds", "");
    println!(
        "{:<52} {:>10.0} {:>10.2}",
        "CSV export through the edge", export_rate, export_seconds
    );
    println!(
        "{:<52} {:>10.0} {:>10.2}",
        "psql \\copy (select ...) to stdout", copy_rate, copy_seconds
    );
    println!(
        "{:<52} {:>9.0}%  (target >= 50%)",
        "ratio",
        100.0 * export_rate / copy_rate
    );
    println!(
        "{:<52} {:>7.0} MB  (target < 150 MB)",
        "server peak RSS (whole run)",
        peak as f64 / 1e6
    );
    println!(
        "{:<52} {:>10.0}",
        "requests/s, 32 concurrent clients, first query", rps
    );
}
