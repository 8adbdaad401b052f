//! `opendata review ...`: the data inventory and its workflow (nominate, start, approve, publish,
//! withhold, reopen, retire), the stale list and the audit log.

use std::io::Write as _;

use clap::Subcommand;
use futures::StreamExt as _;
use opendata_proto::common::v1::AccessLevel;
use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::{ReviewState, WithholdingGround};

use crate::client::{CliError, Connection, describe};

/// Reads a withholding ground's name.
pub fn parse_ground(name: &str) -> Result<WithholdingGround, String> {
    match name {
        "violates_law" => Ok(WithholdingGround::ViolatesLaw),
        "endangers_public" => Ok(WithholdingGround::EndangersPublic),
        "hinders_government" => Ok(WithholdingGround::HindersGovernment),
        "undue_burden" => Ok(WithholdingGround::UndueBurden),
        _ => Err(format!(
            "`{name}` is not a ground: use violates_law, endangers_public, hinders_government or undue_burden"
        )),
    }
}

fn parse_state(name: &str) -> Result<ReviewState, String> {
    ReviewState::from_str_name(&format!("REVIEW_STATE_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != ReviewState::Unspecified)
        .ok_or_else(|| {
            format!("`{name}` is not a state: use inventoried, nominated, under_review, approved, published, withheld or retired")
        })
}

/// `opendata review ...`.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Nominates a dataset for publication (its ADO, or the CDO).
    Nominate {
        /// Dataset id.
        id: String,
        /// Why the public should have it.
        #[arg(long)]
        justification: String,
        /// Update frequency: ISO 8601 (`R/P1M`) or daily, weekly, monthly, quarterly, annually, irregular.
        #[arg(long)]
        frequency: String,
    },
    /// Takes a nominated dataset under review (CDO).
    Start {
        /// Dataset id.
        id: String,
        /// Note.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Approves a dataset under review (CDO).
    Approve {
        /// Dataset id.
        id: String,
        /// Note.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Publishes an approved dataset (CDO).
    Publish {
        /// Dataset id.
        id: String,
        /// Note.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Withholds a dataset on a legal ground of Executive Order 39 (CDO, or its ADO).
    Withhold {
        /// Dataset id.
        id: String,
        /// violates_law, endangers_public, hinders_government or undue_burden.
        #[arg(long, value_parser = parse_ground)]
        ground: WithholdingGround,
        /// The written explanation, published as `rights` (at most 255 characters).
        #[arg(long)]
        explanation: String,
        /// Restricted public rather than non-public.
        #[arg(long)]
        restricted: bool,
    },
    /// Reopens a withheld dataset for review (CDO, or its ADO).
    Reopen {
        /// Dataset id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Retires a published dataset (CDO, or its ADO); it stays public 30 days as "ARCHIVE: ...".
    Retire {
        /// Dataset id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The dataset that replaces it.
        #[arg(long, default_value = "")]
        successor: String,
    },
    /// Shows an inventory record with its history and freshness.
    Show {
        /// Dataset id.
        id: String,
    },
    /// Lists the inventory.
    List {
        /// Only this agency's.
        #[arg(long, default_value = "")]
        agency: String,
        /// Only records in this state (repeatable).
        #[arg(long = "state", value_parser = parse_state)]
        states: Vec<ReviewState>,
    },
    /// Lists published datasets past due date + grace.
    Stale {
        /// Only this agency's.
        #[arg(long, default_value = "")]
        agency: String,
    },
    /// Prints the audit log (CDO, panel): newest entries, or the whole log as CSV.
    Audit {
        /// Only entries about this subject (`dataset:abcd-1234`, `key:<id>`).
        #[arg(long, default_value = "")]
        subject: String,
        /// The whole log as CSV on standard output.
        #[arg(long)]
        csv: bool,
    },
}

fn state_name(state: i32) -> String {
    ReviewState::try_from(state)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("REVIEW_STATE_")
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn print_record(record: &governance::InventoryRecord) {
    let freshness = record.freshness.clone().unwrap_or_default();
    println!(
        "{}  {:<8} {:<12} {:<7} {:<10} {}",
        record.dataset_id,
        record.agency_id,
        state_name(record.state),
        if record.public { "public" } else { "private" },
        freshness
            .status()
            .as_str_name()
            .trim_start_matches("FRESHNESS_STATUS_")
            .to_ascii_lowercase(),
        record.title
    );
}

/// Runs a review command.
pub async fn review(connection: &Connection, command: ReviewCommand) -> Result<(), CliError> {
    let mut client = connection.review()?;
    let fail = |what: &'static str| {
        move |status: tonic::Status| -> CliError { format!("{what}: {}", describe(&status)).into() }
    };
    let transition = |id: String, reason: String| governance::TransitionRequest {
        dataset_id: id,
        reason,
    };
    let record = match command {
        ReviewCommand::Nominate {
            id,
            justification,
            frequency,
        } => client
            .nominate(governance::NominateRequest {
                dataset_id: id,
                justification,
                accrual_periodicity: frequency,
            })
            .await
            .map_err(fail("cannot nominate"))?,
        ReviewCommand::Start { id, reason } => client
            .start_review(transition(id, reason))
            .await
            .map_err(fail("cannot start the review"))?,
        ReviewCommand::Approve { id, reason } => client
            .approve(transition(id, reason))
            .await
            .map_err(fail("cannot approve"))?,
        ReviewCommand::Publish { id, reason } => client
            .publish(transition(id, reason))
            .await
            .map_err(fail("cannot publish"))?,
        ReviewCommand::Withhold {
            id,
            ground,
            explanation,
            restricted,
        } => client
            .withhold(governance::WithholdRequest {
                dataset_id: id,
                ground: ground as i32,
                explanation,
                access_level: if restricted {
                    AccessLevel::RestrictedPublic
                } else {
                    AccessLevel::NonPublic
                } as i32,
            })
            .await
            .map_err(fail("cannot withhold"))?,
        ReviewCommand::Reopen { id, reason } => client
            .reopen(transition(id, reason))
            .await
            .map_err(fail("cannot reopen"))?,
        ReviewCommand::Retire {
            id,
            reason,
            successor,
        } => client
            .retire(governance::RetireRequest {
                dataset_id: id,
                reason,
                successor_dataset_id: successor,
            })
            .await
            .map_err(fail("cannot retire"))?,
        ReviewCommand::Show { id } => {
            let record = client
                .get_inventory_record(governance::GetInventoryRecordRequest { dataset_id: id })
                .await
                .map_err(fail("cannot read the record"))?
                .into_inner();
            print_record(&record);
            for step in &record.history {
                println!(
                    "  {} → {} by {}: {}",
                    state_name(step.from_state),
                    state_name(step.to_state),
                    step.actor_id,
                    step.reason
                );
            }
            return Ok(());
        }
        ReviewCommand::List { agency, states } => {
            let records = client
                .list_inventory(governance::ListInventoryRequest {
                    agency_id: agency,
                    states: states.into_iter().map(|s| s as i32).collect(),
                })
                .await
                .map_err(fail("cannot list the inventory"))?
                .into_inner()
                .records;
            records.iter().for_each(print_record);
            return Ok(());
        }
        ReviewCommand::Stale { agency } => {
            let stale = connection
                .freshness()?
                .list_stale(governance::ListStaleRequest { agency_id: agency })
                .await
                .map_err(fail("cannot list stale datasets"))?
                .into_inner()
                .datasets;
            for dataset in &stale {
                println!(
                    "{}  {:<8} {:<10} due {}",
                    dataset.dataset_id,
                    dataset.agency_id,
                    dataset.accrual_periodicity,
                    dataset
                        .due_at
                        .as_ref()
                        .and_then(opendata_platform::timestamp::from_proto)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                );
            }
            return Ok(());
        }
        ReviewCommand::Audit { subject, csv } => return audit(connection, subject, csv).await,
    };
    print_record(&record.into_inner());
    Ok(())
}

async fn audit(connection: &Connection, subject: String, csv: bool) -> Result<(), CliError> {
    let mut client = connection.audit()?;
    if csv {
        let mut chunks = client
            .export_audit_log(governance::ExportAuditLogRequest {})
            .await
            .map_err(|status| format!("cannot export the audit log: {}", describe(&status)))?
            .into_inner();
        let mut out = std::io::stdout().lock();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|status| format!("export failed: {}", describe(&status)))?;
            out.write_all(&chunk.data)?;
        }
        return Ok(());
    }
    let entries = client
        .list_audit_entries(governance::ListAuditEntriesRequest {
            subject,
            page_size: 50,
            before_id: 0,
        })
        .await
        .map_err(|status| format!("cannot read the audit log: {}", describe(&status)))?
        .into_inner()
        .entries;
    for entry in &entries {
        println!(
            "{:>6}  {}  {:<20} {:<28} {}  {}",
            entry.id,
            entry
                .at
                .as_ref()
                .and_then(opendata_platform::timestamp::from_proto)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            entry.action,
            entry.subject,
            entry.actor_id,
            entry.reason
        );
    }
    Ok(())
}

/// Takes a dataset through the whole workflow to published with a CDO's connection, skipping the
/// steps already done. Returns the record.
pub async fn publish_through_review(
    cdo: &Connection,
    dataset_id: &str,
    justification: &str,
    frequency: &str,
) -> Result<governance::InventoryRecord, CliError> {
    let mut client = cdo.review()?;
    let fail = |step: &'static str| {
        move |status: tonic::Status| -> CliError {
            format!("cannot {step} {dataset_id}: {}", describe(&status)).into()
        }
    };
    let transition = || governance::TransitionRequest {
        dataset_id: dataset_id.to_owned(),
        reason: "demo".to_owned(),
    };
    let mut state = match client
        .get_inventory_record(governance::GetInventoryRecordRequest {
            dataset_id: dataset_id.to_owned(),
        })
        .await
    {
        Ok(record) => record.into_inner().state(),
        Err(status) if status.code() == tonic::Code::NotFound => ReviewState::Inventoried,
        Err(status) => return Err(fail("read")(status)),
    };
    loop {
        let record = match state {
            ReviewState::Inventoried | ReviewState::Unspecified => client
                .nominate(governance::NominateRequest {
                    dataset_id: dataset_id.to_owned(),
                    justification: justification.to_owned(),
                    accrual_periodicity: frequency.to_owned(),
                })
                .await
                .map_err(fail("nominate"))?,
            ReviewState::Nominated => client
                .start_review(transition())
                .await
                .map_err(fail("review"))?,
            ReviewState::UnderReview => client
                .approve(transition())
                .await
                .map_err(fail("approve"))?,
            ReviewState::Approved => client
                .publish(transition())
                .await
                .map_err(fail("publish"))?,
            ReviewState::Published | ReviewState::Withheld | ReviewState::Retired => {
                return Ok(client
                    .get_inventory_record(governance::GetInventoryRecordRequest {
                        dataset_id: dataset_id.to_owned(),
                    })
                    .await
                    .map_err(fail("read"))?
                    .into_inner());
            }
        };
        state = record.into_inner().state();
    }
}
