//! Version storage benchmark (`make bench`): a 1,000,000-row dataset keyed by serial number (the
//! ingest benchmark's file) is pushed, then upserted ten times with 1% of its rows changed each
//! time, through the release `opendata up`. Prints the bytes the eleven versions take in their
//! generation table, next to what eleven full copies (the storage before generations, one table a
//! version) would take, measured by copying the last version once; and the seconds a 1% upsert
//! takes to commit. Then diffs: the last two versions (1% changed) and the first and last (10%),
//! through the edge (`diff.csv`, streamed) with the server's peak memory over each, next to the
//! same diff done by PostgreSQL directly (`EXCEPT ALL` both ways over the two versions' views,
//! every row fetched). `BENCH_ROWS` changes the row count.

#![allow(clippy::print_stdout)]

mod common;

use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt as _;

use opendata::push::Mode;
use opendata_testkit::{ServerProcess, TestDatabase, binary};
use sqlx::{Connection as _, PgConnection};

use crate::common::{HEADER, csv_rows, generate, push, push_as, schema, setup_with};

/// Upserts of 1% of the rows each.
const ROUNDS: u64 = 10;

/// The rows of `file` whose position is `round` modulo 100, their sale amount raised by `round`.
fn one_percent(file: &Path, round: u64) -> PathBuf {
    let path = file.with_extension(format!("upsert{round}.csv"));
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    let lines = BufReader::new(std::fs::File::open(file).unwrap()).lines();
    for (index, line) in lines.skip(1).enumerate() {
        if index as u64 % 100 != round {
            continue;
        }
        let line = line.unwrap();
        let mut fields: Vec<String> = line.split(',').map(str::to_owned).collect();
        let sale: f64 = fields[6].parse().unwrap();
        fields[6] = format!("{:.2}", sale + round as f64);
        writeln!(out, "{}", fields.join(",")).unwrap();
    }
    out.flush().unwrap();
    path
}

async fn bytes(connection: &mut PgConnection, function: &str, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT {function}('data.' || quote_ident($1))"))
        .bind(table)
        .fetch_one(connection)
        .await
        .unwrap()
}

fn megabytes(bytes: i64) -> f64 {
    bytes as f64 / 1e6
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let file = generate(rows);
    println!("version storage benchmark: {rows} rows, then {ROUNDS} upserts of 1% each");

    let database = TestDatabase::create().await;
    let admin_key = format!("odk_bench_{}", database.prefix);
    let server = ServerProcess::start(&binary("release"), &database, &admin_key, &[]).await;
    let mut keyed = schema(&[]);
    keyed.row_identifier = "serial_number".to_owned();
    let (key, dataset) = setup_with(&server, &admin_key, keyed).await;
    push(&server, &key, &dataset, &file).await;
    let mut upsert_seconds = 0.0;
    for round in 1..=ROUNDS {
        let changes = one_percent(&file, round);
        upsert_seconds += push_as(&server, &key, &dataset, &changes, Mode::Upsert).await;
        std::fs::remove_file(changes).unwrap();
    }
    wait_for_version(&server, &key, &dataset, ROUNDS + 1).await;
    let mut measured = Vec::new();
    for (from, to) in [(ROUNDS, ROUNDS + 1), (1, ROUNDS + 1)] {
        server.reset_peak_memory();
        let (changes, seconds) = edge_diff(&server, &key, &dataset, from, to).await;
        let peak = server.peak_memory_bytes().unwrap_or_default();
        let (except_rows, except_seconds) = except_diff(&database, &dataset, from, to).await;
        measured.push((
            from,
            to,
            changes,
            seconds,
            peak,
            except_rows,
            except_seconds,
        ));
    }
    drop(server);

    let stem = format!("ds_{}", dataset.replace('-', "_"));
    let generation = format!("{stem}_g1");
    let latest = format!("{stem}_v{}", ROUNDS + 1);
    let mut connection = PgConnection::connect(&database.url).await.unwrap();
    let stored: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM data.\"{generation}\""))
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let heap = bytes(&mut connection, "pg_relation_size", &generation).await;
    let total = bytes(&mut connection, "pg_total_relation_size", &generation).await;
    // One version as its own table, with the indexes each version's table had.
    sqlx::raw_sql(&format!(
        "CREATE TABLE data.bench_copy AS SELECT * FROM data.\"{latest}\"; \
         ALTER TABLE data.bench_copy ADD PRIMARY KEY (\":id\"); \
         CREATE UNIQUE INDEX ON data.bench_copy (serial_number)"
    ))
    .execute(&mut connection)
    .await
    .unwrap();
    let copy_heap = bytes(&mut connection, "pg_relation_size", "bench_copy").await;
    let copy_total = bytes(&mut connection, "pg_total_relation_size", "bench_copy").await;
    connection.close().await.unwrap();
    database.drop_all().await;

    let versions = (ROUNDS + 1) as i64;
    println!();
    println!("{:<44} {:>12} {:>12}", "", "rows", "MB (heap/all)");
    println!(
        "{:<44} {:>12} {:>7.0}/{:.0}",
        format!("{versions} versions in one generation"),
        stored,
        megabytes(heap),
        megabytes(total)
    );
    println!(
        "{:<44} {:>12} {:>7.0}/{:.0}",
        format!("{versions} versions as full copies (baseline)"),
        rows as i64 * versions,
        megabytes(copy_heap * versions),
        megabytes(copy_total * versions)
    );
    println!(
        "{:<44} {:>11.1}% {:>7.1}%",
        "generation / copies",
        100.0 * stored as f64 / (rows as f64 * versions as f64),
        100.0 * total as f64 / (copy_total * versions) as f64
    );
    println!(
        "{:<44} {:>12.2}",
        "seconds per 1% upsert (push and commit)",
        upsert_seconds / ROUNDS as f64
    );
    println!();
    println!(
        "{:<30} {:>9} {:>9} {:>12} {:>9} {:>14} {:>12}",
        "diff", "changes", "seconds", "changes/s", "peak MB", "EXCEPT rows", "EXCEPT s"
    );
    for (from, to, changes, seconds, peak, except_rows, except_seconds) in measured {
        println!(
            "{:<30} {:>9} {:>9.2} {:>12.0} {:>9.0} {:>14} {:>12.2}",
            format!("v{from} → v{to} through the edge"),
            changes,
            seconds,
            changes as f64 / seconds,
            peak as f64 / 1e6,
            except_rows,
            except_seconds
        );
    }
}

/// Waits until the catalog serves `version` (commits are made current a moment later).
async fn wait_for_version(server: &ServerProcess, key: &str, dataset: &str, version: u64) {
    let url = format!("{}/api/views/{dataset}/versions", server.url("edge"));
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let body = client
            .get(&url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let history: serde_json::Value = serde_json::from_str(&body).unwrap();
        if history["versions"][0]["version"] == version {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("version {version} of {dataset} was not made current within 30 s");
}

/// The changed rows between two versions as CSV through the edge: how many, and the seconds the
/// whole body took.
async fn edge_diff(
    server: &ServerProcess,
    key: &str,
    dataset: &str,
    from: u64,
    to: u64,
) -> (u64, f64) {
    let url = format!(
        "{}/api/views/{dataset}/diff.csv?from={from}&to={to}",
        server.url("edge")
    );
    csv_rows(reqwest::Client::new().get(url).bearer_auth(key)).await
}

/// The same diff by PostgreSQL alone: the rows of each version the other lacks (`EXCEPT ALL` both
/// ways, over the dataset's columns), every row fetched; how many, and the seconds it took.
async fn except_diff(database: &TestDatabase, dataset: &str, from: u64, to: u64) -> (u64, f64) {
    let stem = format!("ds_{}", dataset.replace('-', "_"));
    let columns = HEADER
        .split(',')
        .map(|name| format!("\"{}\"", name.to_lowercase().replace(' ', "_")))
        .collect::<Vec<_>>()
        .join(", ");
    let version = |n: u64| format!("SELECT {columns} FROM data.\"{stem}_v{n}\"");
    let sql = format!(
        "({new} EXCEPT ALL {old}) UNION ALL ({old} EXCEPT ALL {new})",
        new = version(to),
        old = version(from)
    );
    let mut connection = PgConnection::connect(&database.url).await.unwrap();
    let started = Instant::now();
    let mut rows = sqlx::raw_sql(&sql).fetch(&mut connection);
    let mut count = 0u64;
    while let Some(row) = rows.next().await {
        row.unwrap();
        count += 1;
    }
    (count, started.elapsed().as_secs_f64())
}
