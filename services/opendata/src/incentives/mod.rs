//! `opendata incentives`: DECD's side of the incentives database. Import DECD's published award
//! tables and DRS's tax credit tables, generate realistic awards for load, hand the service the
//! automation key it publishes the award dataset with, and see where that dataset stands.

pub mod generate;
pub mod import;
pub mod tax_credits;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use opendata_proto::incentives::v1 as pb;

use opendata_proto::common::v1::Role;

use crate::client::{CliError, Connection, describe};
use crate::demo::principal_connection;
use crate::review::publish_through_review;
use import::{AWARD_FILES, AwardFile, ProgramNames, read_awards};
use tax_credits::{TAX_CREDIT_FILES, TaxCredits};

/// Awards per `RecordAwards` call.
const BATCH: usize = 2_000;

/// `opendata incentives ...` (with a DECD `ado` or `publisher` key).
#[derive(Debug, Subcommand)]
pub enum IncentivesCommand {
    /// Registers the programs of `data/incentives/programs.json` and imports DECD's award tables
    /// and DRS's tax credit tables from `data/decd/`.
    Import(DataArgs),
    /// Records generated awards (for load and demonstrations).
    Generate {
        /// How many.
        #[arg(long, default_value_t = 50_000)]
        count: usize,
        /// Seed of the generator (the same seed gives the same awards).
        #[arg(long, default_value_t = 38)]
        seed: u64,
    },
    /// Gives the service the key of DECD's automation account, to publish the award dataset.
    PublisherKey {
        /// The automation account's key.
        #[arg(long, env = "OPENDATA_PUBLISHER_KEY", hide_env_values = true)]
        api_key: String,
    },
    /// Where the award dataset stands.
    Status,
}

/// Where the data files are.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory holding `incentives/programs.json` and `decd/`.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
}

/// Runs an `opendata incentives` command.
pub async fn incentives(
    connection: &Connection,
    command: IncentivesCommand,
) -> Result<(), CliError> {
    match command {
        IncentivesCommand::Import(args) => {
            let report = import(connection, &args.data).await?;
            println!("{report}");
        }
        IncentivesCommand::Generate { count, seed } => {
            let today = chrono::Utc::now().date_naive();
            let recorded = record_generated(connection, count, seed, today).await?;
            println!("{recorded} generated awards recorded");
        }
        IncentivesCommand::PublisherKey { api_key } => {
            let status = connection
                .incentives()?
                .set_publisher_key(pb::SetPublisherKeyRequest { api_key })
                .await
                .map_err(|status| describe(&status))?
                .into_inner();
            println!(
                "the service publishes dataset {} with this key",
                status.dataset_id
            );
        }
        IncentivesCommand::Status => {
            let status = connection
                .incentives()?
                .get_publishing_status(pb::GetPublishingStatusRequest {})
                .await
                .map_err(|status| describe(&status))?
                .into_inner();
            println!(
                "dataset {}: key {}, {} awards in the last push{}",
                status.dataset_id,
                if status.key_set { "set" } else { "not set" },
                status.rows_pushed,
                if status.last_error.is_empty() {
                    String::new()
                } else {
                    format!("; last error: {}", status.last_error)
                }
            );
        }
    }
    Ok(())
}

/// The incentives part of `opendata demo`, with the admin's `connection` and the CDO's `cdo`:
/// DECD's real awards and tax credits and `generated` more awards (once), the automation key,
/// and the award dataset published through the review workflow.
pub async fn demo(
    connection: &Connection,
    cdo: &Connection,
    data: &Path,
    generated: usize,
) -> Result<(), CliError> {
    let ado =
        principal_connection(connection, "DECD data officer (demo)", Role::Ado, "decd").await?;
    let mut client = ado.incentives()?;
    let recorded = client
        .search_awards(pb::SearchAwardsRequest {
            limit: 1,
            ..Default::default()
        })
        .await
        .map_err(|status| format!("incentives: {}", describe(&status)))?
        .into_inner()
        .total;
    if recorded == 0 {
        println!("{}", import(&ado, data).await?);
        let today = chrono::Utc::now().date_naive();
        let count = record_generated(&ado, generated, 38, today).await?;
        println!("{count} generated awards recorded");
    }
    let mut status = client
        .get_publishing_status(pb::GetPublishingStatusRequest {})
        .await
        .map_err(|status| describe(&status))?
        .into_inner();
    if !status.key_set {
        let automation = principal_connection(
            connection,
            "DECD incentives automation",
            Role::Publisher,
            "decd",
        )
        .await?;
        status = client
            .set_publisher_key(pb::SetPublisherKeyRequest {
                api_key: automation.key.unwrap_or_default(),
            })
            .await
            .map_err(|status| describe(&status))?
            .into_inner();
    }
    let dataset = status.dataset_id;
    let mut catalog = cdo.catalog()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let pushed = client
            .get_publishing_status(pb::GetPublishingStatusRequest {})
            .await
            .map_err(|status| describe(&status))?
            .into_inner();
        let created = catalog
            .get_dataset(opendata_proto::catalog::v1::GetDatasetRequest {
                id: dataset.clone(),
            })
            .await
            .is_ok();
        if created && pushed.rows_pushed > 0 {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "the award dataset {dataset} was not pushed within 2 minutes{}",
                if pushed.last_error.is_empty() {
                    String::new()
                } else {
                    format!(": {}", pushed.last_error)
                }
            )
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    publish_through_review(
        cdo,
        &dataset,
        "Executive Order 38: DECD's awards, public",
        "R/P1D",
    )
    .await?;
    println!("incentives database loaded; award dataset {dataset} published");
    Ok(())
}

/// A date as DECD publishes it (`2018-12-31T00:00:00` or `2018-12-31`).
pub fn date(text: &str) -> Option<NaiveDate> {
    let day = text.split_once('T').map_or(text, |(day, _)| day);
    NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Programs registered.
    pub programs: usize,
    /// Awards recorded, by file.
    pub awards: Vec<(String, usize)>,
    /// Tax credit figures recorded.
    pub tax_credit_figures: u64,
    /// Rows skipped, and why.
    pub skipped: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} programs registered", self.programs)?;
        for (file, count) in &self.awards {
            writeln!(f, "{count} awards recorded from {file}")?;
        }
        write!(f, "{} tax credit figures recorded", self.tax_credit_figures)?;
        for skipped in &self.skipped {
            write!(f, "\nskipped {skipped}")?;
        }
        Ok(())
    }
}

/// Registers the programs and imports the award and tax credit tables under `data`, into an
/// incentives database that holds no award yet (the tables carry no ids to recognise a row
/// already imported, so a second import would record every award twice).
pub async fn import(connection: &Connection, data: &Path) -> Result<ImportReport, CliError> {
    let mut client = connection.incentives()?;
    let held = client
        .search_awards(pb::SearchAwardsRequest {
            limit: 1,
            ..Default::default()
        })
        .await
        .map_err(|status| describe(&status))?
        .into_inner()
        .total;
    if held > 0 {
        return Err(format!(
            "the incentives database already holds {held} awards; import loads DECD's published tables into an empty one (record new awards with RecordAward or `opendata incentives generate`)"
        )
        .into());
    }
    let path = data.join("incentives/programs.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let programs: Vec<ProgramEntry> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut report = ImportReport::default();
    let mut registered = Vec::new();
    for program in programs {
        let program = pb::Program {
            id: program.id,
            name: program.name,
            statutory_reference: program.statutory_reference,
            assistance_types: program.assistance_types,
            administering_agency: program.administering_agency,
        };
        let stored = client
            .upsert_program(program)
            .await
            .map_err(|status| format!("{}: {}", path.display(), describe(&status)))?
            .into_inner();
        registered.push(stored);
    }
    report.programs = registered.len();
    let names = ProgramNames::new(&registered);
    let today = chrono::Utc::now().date_naive();
    for (file, shape) in AWARD_FILES {
        let parsed = read_awards(&data.join(file), shape, &names, today)?;
        let count = record_file(connection, file, &parsed).await?;
        report.awards.push((file.to_owned(), count));
    }
    let mut credits = TaxCredits::default();
    for (file, year, figure) in TAX_CREDIT_FILES {
        credits.read(&data.join(file), year, figure)?;
    }
    report.skipped = credits.skipped;
    report.tax_credit_figures = client
        .record_tax_credits(pb::RecordTaxCreditsRequest {
            figures: credits.figures.into_values().collect(),
        })
        .await
        .map_err(|status| format!("tax credits: {}", describe(&status)))?
        .into_inner()
        .recorded;
    Ok(report)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramEntry {
    id: String,
    name: String,
    statutory_reference: String,
    assistance_types: Vec<String>,
    administering_agency: String,
}

/// Records the awards of one file in batches; a refused batch is reported by file line and
/// field (`xnw3-nytd_top_records.csv line 4: fields.naics_code: ...`).
pub async fn record_file(
    connection: &Connection,
    file: &str,
    parsed: &AwardFile,
) -> Result<usize, CliError> {
    let mut client = connection.incentives()?;
    for (batch_index, batch) in parsed.awards.chunks(BATCH).enumerate() {
        let first = batch_index * BATCH;
        let outcome = client
            .record_awards(pb::RecordAwardsRequest {
                awards: batch.to_vec(),
            })
            .await;
        if let Err(status) = outcome {
            let error = opendata_platform::error::ApiError::from_status(&status);
            if error.violations.is_empty() {
                return Err(format!("{file}: {}", describe(&status)).into());
            }
            let lines: Vec<String> = error
                .violations
                .iter()
                .map(|v| {
                    let (index, field) = split_index(&v.field);
                    let line = index
                        .and_then(|i| parsed.lines.get(first + i))
                        .map_or_else(String::new, |l| format!(" line {l}"));
                    format!("{file}{line}: {field}: {}", v.description)
                })
                .collect();
            return Err(format!(
                "{file}: awards {}-{} were refused, none of them recorded ({first} before them were):\n{}",
                first + 1,
                first + batch.len(),
                lines.join("\n")
            )
            .into());
        }
    }
    Ok(parsed.awards.len())
}

/// `awards[12].fields.naics_code` → (12, `fields.naics_code`).
fn split_index(field: &str) -> (Option<usize>, &str) {
    field
        .strip_prefix("awards[")
        .and_then(|rest| rest.split_once("]."))
        .and_then(|(index, rest)| Some((Some(index.parse().ok()?), rest)))
        .unwrap_or((None, field))
}

/// Records `count` generated awards; how many.
pub async fn record_generated(
    connection: &Connection,
    count: usize,
    seed: u64,
    today: NaiveDate,
) -> Result<usize, CliError> {
    let awards = generate::awards(count, seed, today);
    let parsed = AwardFile {
        lines: (1..=awards.len() as u64).collect(),
        awards,
    };
    record_file(connection, "generated", &parsed).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_point_back_to_their_award() {
        assert_eq!(
            split_index("awards[12].fields.naics_code"),
            (Some(12), "fields.naics_code")
        );
        assert_eq!(split_index("awards"), (None, "awards"));
    }

    #[test]
    fn generated_awards_are_deterministic_and_varied() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let first = generate::awards(500, 7, today);
        assert_eq!(first, generate::awards(500, 7, today));
        let towns: std::collections::HashSet<_> = first
            .iter()
            .map(|a| a.fields.as_ref().unwrap().municipality.clone())
            .collect();
        assert!(towns.len() > 20);
        assert!(first.iter().any(|a| !a.reviews.is_empty()));
    }
}
