//! `opendata diff`: what changed between two kept versions of a dataset. The summary goes to
//! standard error, the changed rows (CSV, or JSON with `--json`) to standard output, streamed.

use std::io::Write as _;

use clap::Args;
use opendata_proto::catalog::v1::query_rows_response::Part;
use opendata_proto::catalog::v1::{DiffRequest, RowFormat};

use crate::client::{CliError, Connection, describe};

/// `opendata diff ID --from N --to M`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Dataset id.
    pub dataset: String,
    /// The older version.
    #[arg(long)]
    pub from: i64,
    /// The newer version.
    #[arg(long)]
    pub to: i64,
    /// Rows as JSON instead of CSV.
    #[arg(long)]
    pub json: bool,
    /// Only the summary, no rows.
    #[arg(long)]
    pub summary: bool,
}

/// Prints the summary, then streams the changed rows.
pub async fn diff(connection: &Connection, args: &DiffArgs) -> Result<(), CliError> {
    let mut catalog = connection.catalog()?;
    let request = DiffRequest {
        dataset_id: args.dataset.clone(),
        from_version: args.from,
        to_version: args.to,
        format: if args.json {
            RowFormat::Json
        } else {
            RowFormat::Csv
        } as i32,
        ..Default::default()
    };
    let summary = catalog
        .summarize_diff(request.clone())
        .await
        .map_err(|status| describe(&status))?
        .into_inner();
    let matched = if summary.row_identifier.is_empty() {
        "rows compared whole".to_owned()
    } else {
        format!("rows matched by {}", summary.row_identifier)
    };
    eprintln!(
        "{} v{} → v{}: {} added, {} removed, {} changed ({matched})",
        summary.dataset_id,
        summary.from_version,
        summary.to_version,
        summary.added,
        summary.removed,
        summary.changed
    );
    for (what, columns) in [
        ("columns added", &summary.columns_added),
        ("columns removed", &summary.columns_removed),
    ] {
        if !columns.is_empty() {
            eprintln!("{what}: {}", columns.join(", "));
        }
    }
    if args.summary {
        return Ok(());
    }
    let mut stream = catalog
        .diff_rows(request)
        .await
        .map_err(|status| describe(&status))?
        .into_inner();
    let mut out = std::io::stdout().lock();
    while let Some(message) = stream.message().await.map_err(|status| describe(&status))? {
        if let Some(Part::Chunk(bytes)) = message.part {
            out.write_all(&bytes)?;
        }
    }
    out.flush()?;
    Ok(())
}
