//! What the benchmarks share: the deterministic 1,000,000-row file modelled on the real-estate
//! sample, its schema, and a server with an agency, a key and a dataset to push into.

#![allow(dead_code)]

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use opendata::client::Connection;
use opendata::push::{Mode, PushArgs};
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Role, Schema};
use opendata_proto::governance::v1 as governance;
use opendata_testkit::{ReviewClient, ServerProcess, principal_with_key};

pub const HEADER: &str = "Serial Number,List Year,Date Recorded,Town,Address,Assessed Value,Sale Amount,Sales Ratio,Property Type,Residential Type";

pub use opendata::random::Random;

/// The `p` quantile (0 to 1) of sorted durations, in milliseconds.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes the benchmark file once per row count and returns its path.
pub fn generate(rows: u64) -> PathBuf {
    let directory = workspace().join("target/bench");
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(format!("real_estate_{rows}.csv"));
    if path.exists() {
        return path;
    }
    let sample =
        std::fs::read_to_string(workspace().join("data/ct_real_estate_sales_sample.csv")).unwrap();
    let mut towns: Vec<String> = sample
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3))
        .map(str::to_owned)
        .collect();
    towns.sort();
    towns.dedup();
    let streets = [
        "MAIN ST",
        "ROUTE 6",
        "ELM ST",
        "PARK AVE",
        "WAKELEE AVE",
        "COTSWOLD WAY",
        "HIGH ST",
        "MAPLE DR",
    ];
    let types = [
        ("Residential", "Single Family"),
        ("Residential", "Condo"),
        ("Residential", "Two Family"),
        ("Commercial", ""),
        ("Vacant Land", ""),
        ("Apartments", ""),
    ];
    let mut random = Random(20_260_101);
    let temporary = path.with_extension("tmp");
    let mut out = BufWriter::new(std::fs::File::create(&temporary).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    for serial in 0..rows {
        let year = 2001 + random.below(22);
        let (property, residential) = types[random.below(types.len() as u64) as usize];
        let assessed = 50_000 + random.below(900_000);
        let sale = assessed + random.below(400_000);
        writeln!(
            out,
            "{},{year},{:02}/{:02}/{},{},{} {},{assessed}.{:02},{sale}.00,{:.4},{property},{residential}",
            200_000 + serial,
            1 + random.below(12),
            1 + random.below(28),
            year + 1,
            towns[random.below(towns.len() as u64) as usize],
            1 + random.below(999),
            streets[random.below(streets.len() as u64) as usize],
            random.below(100),
            assessed as f64 / sale as f64,
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    std::fs::rename(&temporary, &path).unwrap();
    path
}

pub fn schema(indexed: &[&str]) -> Schema {
    let column = |name: &str, column_type: ColumnType| Column {
        display_name: name.to_owned(),
        r#type: column_type as i32,
        indexed: indexed.contains(&name),
        ..Column::default()
    };
    Schema {
        columns: vec![
            column("Serial Number", ColumnType::Number),
            column("List Year", ColumnType::Number),
            column("Date Recorded", ColumnType::CalendarDate),
            column("Town", ColumnType::Text),
            column("Address", ColumnType::Text),
            column("Assessed Value", ColumnType::Number),
            column("Sale Amount", ColumnType::Number),
            column("Sales Ratio", ColumnType::Number),
            column("Property Type", ColumnType::Text),
            column("Residential Type", ColumnType::Text),
        ],
        row_identifier: String::new(),
    }
}

/// The command-line tool's connection to `server`, acting with `key`.
/// The repository's `data/` directory (DECD's tables, the real-estate sample).
pub fn data_dir() -> PathBuf {
    workspace().join("data")
}

/// A connection acting as DECD's new Data Officer, who imports DECD's tables.
pub async fn decd_connection(server: &ServerProcess, admin_key: &str) -> Connection {
    let mut identity = server.clients(Some(admin_key)).identity;
    let decd = principal_with_key(
        &mut identity,
        "decd",
        Role::Ado,
        governance::KeyKind::ApiKey,
    )
    .await
    .secret;
    connection(server, &decd)
}

pub fn connection(server: &ServerProcess, key: &str) -> Connection {
    Connection {
        key: Some(key.to_owned()),
        governance_url: server.url("governance").to_owned(),
        catalog_url: server.url("catalog").to_owned(),
        ingestion_url: server.url("ingestion").to_owned(),
        search_url: server.url("search").to_owned(),
        incentives_url: server.url("incentives").to_owned(),
        ca_file: None,
    }
}

/// Pushes the file with `opendata push`'s code path (gRPC, 1 MiB chunks) and commits; returns
/// the seconds it took.
pub async fn push(server: &ServerProcess, key: &str, dataset: &str, file: &Path) -> f64 {
    push_as(server, key, dataset, file, Mode::Replace).await
}

/// [`push`] in `mode`.
pub async fn push_as(
    server: &ServerProcess,
    key: &str,
    dataset: &str,
    file: &Path,
    mode: Mode,
) -> f64 {
    let connection = connection(server, key);
    let args = PushArgs {
        dataset: dataset.to_owned(),
        mode,
        max_rejected: 0.0,
        infer_schema: false,
        yes: false,
        no_commit: false,
        quiet: true,
        file: file.to_owned(),
        as_of: None,
        allow_empty: false,
    };
    let started = Instant::now();
    let committed = opendata::push::push(&connection, &args)
        .await
        .expect("push");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(committed.rows_rejected, 0);
    seconds
}

pub async fn setup(server: &ServerProcess, admin_key: &str, indexed: &[&str]) -> (String, String) {
    setup_with(server, admin_key, schema(indexed)).await
}

/// [`setup`] with a schema of the caller's.
pub async fn setup_with(
    server: &ServerProcess,
    admin_key: &str,
    schema: Schema,
) -> (String, String) {
    let mut identity = server.clients(Some(admin_key)).identity;
    let key = principal_with_key(
        &mut identity,
        "opm",
        Role::Publisher,
        governance::KeyKind::ApiKey,
    )
    .await
    .secret;
    let dataset = server
        .clients(Some(&key))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Bench".into(),
                ..Default::default()
            }),
            schema: Some(schema),
            id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    (key, dataset)
}

/// A review client acting as a new Chief Data Officer, who publishes.
pub async fn cdo_review(server: &ServerProcess, admin_key: &str) -> ReviewClient {
    let mut identity = server.clients(Some(admin_key)).identity;
    let cdo =
        principal_with_key(&mut identity, "cdo", Role::Cdo, governance::KeyKind::ApiKey).await;
    server.clients(Some(&cdo.secret)).review
}

/// The rows of a CSV response (its lines less the header) and the seconds the whole body took.
pub async fn csv_rows(request: reqwest::RequestBuilder) -> (u64, f64) {
    use futures::StreamExt as _;
    let started = Instant::now();
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut lines = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        lines += chunk.unwrap().iter().filter(|b| **b == b'\n').count() as u64;
    }
    (lines - 1, started.elapsed().as_secs_f64())
}
