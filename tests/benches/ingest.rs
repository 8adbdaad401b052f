//! Ingestion benchmark (`make bench`): a deterministic 1,000,000-row, 10-column CSV modelled on the
//! real-estate sample is pushed over gRPC end to end (client → ingestion → committed) through the
//! release `opendata up`, and the same file is loaded with `psql \copy` into an equivalent table in
//! the same run. Prints rows/s side by side, their ratio (target ≥ 60%), and the server's peak
//! memory (target < 200 MB). `BENCH_ROWS` changes the row count.

#![allow(clippy::print_stdout)]

mod common;

use std::path::Path;
use std::time::Instant;

use opendata_testkit::{ServerProcess, TestDatabase, binary};

use crate::common::{generate, push, setup};

/// Loads the file with `psql \copy` into an equivalent table; returns the seconds it took.
fn psql_copy(database: &TestDatabase, file: &Path) -> f64 {
    let create = "CREATE TABLE bench_copy (serial_number numeric, list_year numeric, date_recorded timestamp, town text, \
                  address text, assessed_value numeric, sale_amount numeric, sales_ratio numeric, property_type text, residential_type text)";
    let status = std::process::Command::new("psql")
        .args([database.url.as_str(), "-qc", create])
        .status()
        .unwrap();
    assert!(status.success());
    let copy = format!(
        "\\copy bench_copy FROM '{}' WITH (FORMAT csv, HEADER true)",
        file.display()
    );
    let started = Instant::now();
    let status = std::process::Command::new("psql")
        .args([database.url.as_str(), "-qc", &copy])
        .status()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success());
    seconds
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let file = generate(rows);
    let megabytes = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    println!(
        "ingest benchmark: {rows} rows x 10 columns ({megabytes:.0} MB), {}",
        file.display()
    );

    let database = TestDatabase::create().await;
    let admin_key = format!("odk_bench_{}", database.prefix);
    let server = ServerProcess::start(&binary("release"), &database, &admin_key, &[]).await;
    let (key, dataset) = setup(&server, &admin_key, &[]).await;
    let push_seconds = push(&server, &key, &dataset, &file).await;
    let peak = server.peak_memory_bytes().unwrap_or_default();
    let copy_seconds = psql_copy(&database, &file);
    drop(server);
    database.drop_all().await;

    let push_rate = rows as f64 / push_seconds;
    let copy_rate = rows as f64 / copy_seconds;
    println!();
    println!("{:<34} {:>12} {:>10}", "", "rows/s", "seconds");
    println!(
        "{:<34} {:>12.0} {:>10.2}",
        "opendata push (gRPC, committed)", push_rate, push_seconds
    );
    println!(
        "{:<34} {:>12.0} {:>10.2}",
        "psql \\copy (baseline)", copy_rate, copy_seconds
    );
    println!(
        "{:<34} {:>11.0}% {:>10}",
        "ratio (target >= 60%)",
        100.0 * push_rate / copy_rate,
        ""
    );
    println!(
        "{:<34} {:>9.0} MB {:>10}",
        "opendata peak RSS (target < 200 MB)",
        peak as f64 / 1e6,
        ""
    );
}
