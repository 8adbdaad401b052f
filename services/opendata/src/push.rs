//! `opendata push`: create an upload, stream the file with a progress bar, accept an inferred
//! schema when asked to, commit, and print the report.

use std::io::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use opendata_platform::upload::{SendError, send_file};
use opendata_proto::common::v1::Schema;
use opendata_proto::ingestion::v1 as pb;

use crate::client::{CliError, Connection, describe};

/// Rejections printed in the report.
const REJECTIONS_SHOWN: u32 = 20;

/// How the file combines with the current data.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// The file becomes the dataset.
    Replace,
    /// The file's rows are added.
    Append,
    /// Rows are updated or inserted by the row identifier.
    Upsert,
}

/// Arguments of `opendata push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Dataset id (`abcd-1234`).
    #[arg(long)]
    pub dataset: String,
    /// How the file combines with the current data.
    #[arg(long, value_enum, default_value = "replace")]
    pub mode: Mode,
    /// Largest share of rows that may be rejected (0 to 1); past it the commit fails whole.
    #[arg(long, default_value_t = 0.0)]
    pub max_rejected: f64,
    /// Infer the schema from the whole file (replace only).
    #[arg(long)]
    pub infer_schema: bool,
    /// Accept the inferred schema without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Load but do not commit (the upload can be committed or abandoned later).
    #[arg(long)]
    pub no_commit: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// When the file's data was current (`2024-06-30` or an RFC 3339 time), if it is an extract
    /// taken earlier; freshness counts from it. Default: now.
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<DateTime<Utc>>,
    /// With `--mode replace`, let a file without data rows empty the dataset (refused otherwise,
    /// so a header-only file never empties a dataset by mistake).
    #[arg(long)]
    pub allow_empty: bool,
    /// The CSV file.
    pub file: PathBuf,
}

/// Reads `--as-of`: a date (midnight UTC) or an RFC 3339 time.
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
        .ok_or_else(|| format!("`{text}` is not a date (2024-06-30) or an RFC 3339 time"))
}

/// Runs `opendata push`; returns the final upload.
pub async fn push(connection: &Connection, args: &PushArgs) -> Result<pb::Upload, CliError> {
    let mut ingestion = connection.ingestion()?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(|error| format!("cannot open {}: {error}", args.file.display()))?;
    let size = file.metadata().await?.len();
    let mode = match args.mode {
        Mode::Replace => pb::UploadMode::Replace,
        Mode::Append => pb::UploadMode::Append,
        Mode::Upsert => pb::UploadMode::Upsert,
    };
    let upload = ingestion
        .create_upload(pb::CreateUploadRequest {
            dataset_id: args.dataset.clone(),
            mode: mode as i32,
            max_rejected_fraction: args.max_rejected,
            infer_schema: args.infer_schema,
            schema: None,
            data_as_of: args.as_of.map(opendata_platform::timestamp::to_proto),
            allow_empty: args.allow_empty,
        })
        .await
        .map_err(|status| format!("cannot start the upload: {}", describe(&status)))?
        .into_inner();

    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(size)
    };
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{bar:40}] {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let bar = progress.clone();
    let sent = send_file(&mut ingestion, &upload.id, file, move |read| bar.inc(read)).await;
    progress.finish_and_clear();
    let mut upload = sent.map_err(|error| match error {
        SendError::Refused(status) => format!("the file was refused: {}", describe(&status)),
        SendError::Read(error) => format!("cannot read {}: {error}", args.file.display()),
    })?;

    if upload.state() == pb::UploadState::AwaitingSchema {
        let schema = upload.inferred_schema.clone().unwrap_or_default();
        print_schema(&schema);
        if !args.yes && !confirm("Load the file with this schema?")? {
            ingestion
                .abandon_upload(pb::AbandonUploadRequest {
                    upload_id: upload.id.clone(),
                })
                .await?;
            return Err("the inferred schema was not accepted; the upload was abandoned".into());
        }
        upload = ingestion
            .accept_schema(pb::AcceptSchemaRequest {
                upload_id: upload.id.clone(),
                schema: Some(schema),
            })
            .await
            .map_err(|status| format!("the file could not be loaded: {}", describe(&status)))?
            .into_inner();
    }
    if !args.no_commit {
        let committed = ingestion
            .commit_upload(pb::CommitUploadRequest {
                upload_id: upload.id.clone(),
            })
            .await;
        match committed {
            Ok(response) => upload = response.into_inner(),
            Err(status) => {
                print_report(&upload);
                print_rejections(connection, &upload).await?;
                return Err(format!("the commit failed: {}", describe(&status)).into());
            }
        }
    }
    print_report(&upload);
    print_rejections(connection, &upload).await?;
    Ok(upload)
}

fn print_schema(schema: &Schema) {
    println!("Inferred schema:");
    for column in &schema.columns {
        let column_type = opendata_proto::common::v1::ColumnType::try_from(column.r#type)
            .map(|t| {
                t.as_str_name()
                    .trim_start_matches("COLUMN_TYPE_")
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        println!(
            "  {:>3}. {:<40} {:<14} ({})",
            column.position, column.field_name, column_type, column.display_name
        );
    }
}

fn confirm(question: &str) -> Result<bool, CliError> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn print_report(upload: &pb::Upload) {
    let state = upload
        .state()
        .as_str_name()
        .trim_start_matches("UPLOAD_STATE_")
        .to_ascii_lowercase();
    println!(
        "upload {} for dataset {}: {state}",
        upload.id, upload.dataset_id
    );
    println!(
        "  rows: {} read, {} loaded, {} rejected; {} bytes in {} ms (indexes {} ms)",
        upload.rows_received,
        upload.rows_loaded,
        upload.rows_rejected,
        upload.bytes_received,
        upload.load_millis,
        upload.index_millis
    );
    if upload.version > 0 {
        println!("  version {} committed", upload.version);
    }
    if !upload.error.is_empty() {
        println!("  error: {}", upload.error);
    }
}

async fn print_rejections(connection: &Connection, upload: &pb::Upload) -> Result<(), CliError> {
    if upload.rows_rejected == 0 {
        return Ok(());
    }
    let rejections = connection
        .ingestion()?
        .list_rejections(pb::ListRejectionsRequest {
            upload_id: upload.id.clone(),
            page_size: REJECTIONS_SHOWN,
            after_line: 0,
        })
        .await?
        .into_inner()
        .rejections;
    println!("  rejected rows (first {}):", rejections.len());
    for rejection in rejections {
        println!(
            "    line {}, column {}: {} (value `{}`)",
            rejection.line, rejection.column, rejection.reason, rejection.value
        );
    }
    Ok(())
}
