//! `opendata demo`: loads the real Connecticut samples as published demo datasets, through the
//! same public gRPC API agencies use. Running it again changes nothing that is already there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{AccessLevel, Role};
use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::ReviewState;
use serde::Deserialize;

use crate::client::{CliError, Connection, describe};
use crate::push::{Mode, PushArgs, parse_as_of, push};
use crate::review::{parse_ground, publish_through_review};
use crate::schema_file::SocrataSchema;

/// Arguments of `opendata demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory holding `demo.json` and the files it names.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Generated awards to add to DECD's real ones in the incentives database.
    #[arg(long, default_value_t = 50_000)]
    pub awards: usize,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    agencies: Vec<AgencyEntry>,
    datasets: Vec<DatasetEntry>,
}

#[derive(Debug, Deserialize)]
struct AgencyEntry {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SchemaSource {
    /// `"socrata"` (from `decd/ct_decd_and_drs_dataset_schemas.json`) or `"infer"`.
    Named(String),
    /// A schema written out.
    Inline(SocrataSchema),
}

/// What governance decides about a demo dataset; published when absent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Decision {
    /// Withheld from the inventory on a legal ground.
    Withhold {
        /// `violates_law`, `endangers_public`, `hinders_government` or `undue_burden`.
        ground: String,
        /// The published explanation.
        explanation: String,
    },
    /// Published, then retired.
    Retire {
        /// Why.
        reason: String,
        /// Its successor.
        #[serde(default)]
        successor: String,
    },
}

#[derive(Debug, Deserialize)]
struct DatasetEntry {
    id: String,
    agency: String,
    /// The file to load; metadata-only inventory entries have none.
    #[serde(default)]
    file: Option<String>,
    schema: SchemaSource,
    /// When the file's data was current (`2015-06-30`), if it is an old extract.
    #[serde(default)]
    as_of: Option<String>,
    /// Governance's decision; published when absent.
    #[serde(default)]
    governance: Option<Decision>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    temporal: String,
    #[serde(default)]
    max_rejected: f64,
}

#[derive(Debug, Deserialize)]
struct PublishedSchema {
    title: String,
    #[serde(default)]
    description: String,
    columns: Vec<crate::schema_file::SocrataColumn>,
}

/// Runs `opendata demo` with an admin key.
pub async fn demo(connection: &Connection, args: &DemoArgs) -> Result<(), CliError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let manifest: Manifest = serde_json::from_str(&read(&args.data.join("demo.json"))?)?;
    let published: HashMap<String, PublishedSchema> = serde_json::from_str(&read(
        &args.data.join("decd/ct_decd_and_drs_dataset_schemas.json"),
    )?)?;

    let mut identity = connection.identity()?;
    for agency in &manifest.agencies {
        match identity
            .create_agency(governance::CreateAgencyRequest {
                id: agency.id.clone(),
                name: agency.name.clone(),
            })
            .await
        {
            Ok(_) => println!("agency {} created", agency.id),
            Err(status) if status.code() == tonic::Code::AlreadyExists => {}
            Err(status) => {
                return Err(
                    format!("cannot create agency {}: {}", agency.id, describe(&status)).into(),
                );
            }
        }
    }

    let mut keys: HashMap<String, Connection> = HashMap::new();
    let mut admin_catalog = connection.catalog()?;
    let cdo = principal_connection(connection, "Chief Data Officer (demo)", Role::Cdo, "").await?;
    for entry in &manifest.datasets {
        let existing = admin_catalog
            .get_dataset(catalog::GetDatasetRequest {
                id: entry.id.clone(),
            })
            .await;
        let current_version = match existing {
            Ok(dataset) => dataset.into_inner().current_version,
            Err(status) if status.code() == tonic::Code::NotFound => {
                // As the admin: the demo keeps Socrata's ids, which only the CDO or an admin
                // choose (an agency's own ids begin with its id).
                create(connection, entry, published.get(&entry.id)).await?;
                0
            }
            Err(status) => {
                return Err(
                    format!("cannot read dataset {}: {}", entry.id, describe(&status)).into(),
                );
            }
        };
        if let (0, Some(file)) = (current_version, &entry.file) {
            println!("loading {file} into {}", entry.id);
            let as_of = entry.as_of.as_deref().map(parse_as_of).transpose()?;
            push(
                &publisher(connection, &mut keys, &entry.agency).await?,
                &PushArgs {
                    dataset: entry.id.clone(),
                    mode: Mode::Replace,
                    max_rejected: entry.max_rejected,
                    infer_schema: matches!(&entry.schema, SchemaSource::Named(name) if name == "infer"),
                    yes: true,
                    no_commit: false,
                    quiet: true,
                    as_of,
                    allow_empty: false,
                    file: args.data.join(file),
                },
            )
            .await?;
        }
        decide(&cdo, entry).await?;
    }
    crate::incentives::demo(connection, &cdo, &args.data, args.awards).await?;
    println!(
        "demo data loaded: {} datasets ({} withheld, {} retired, the rest published)",
        manifest.datasets.len(),
        manifest
            .datasets
            .iter()
            .filter(|d| matches!(d.governance, Some(Decision::Withhold { .. })))
            .count(),
        manifest
            .datasets
            .iter()
            .filter(|d| matches!(d.governance, Some(Decision::Retire { .. })))
            .count(),
    );
    Ok(())
}

/// A connection acting as a new principal with `role` (bound to `agency` when not empty),
/// created with the admin's `connection`.
pub(crate) async fn principal_connection(
    connection: &Connection,
    name: &str,
    role: Role,
    agency: &str,
) -> Result<Connection, CliError> {
    let mut identity = connection.identity()?;
    let principal = identity
        .create_principal(governance::CreatePrincipalRequest {
            name: name.to_owned(),
            role: role as i32,
            agency_id: agency.to_owned(),
        })
        .await
        .map_err(|status| format!("cannot create {name}: {}", describe(&status)))?
        .into_inner();
    let key = identity
        .issue_key(governance::IssueKeyRequest {
            principal_id: principal.id,
            label: "demo loader".to_owned(),
            kind: governance::KeyKind::ApiKey as i32,
        })
        .await
        .map_err(|status| format!("cannot issue a key to {name}: {}", describe(&status)))?
        .into_inner()
        .secret;
    Ok(Connection {
        key: Some(key),
        ..connection.clone()
    })
}

/// A connection acting as a demo publisher of `agency`, created the first time it is needed.
async fn publisher(
    connection: &Connection,
    keys: &mut HashMap<String, Connection>,
    agency: &str,
) -> Result<Connection, CliError> {
    if !keys.contains_key(agency) {
        let publisher = principal_connection(
            connection,
            &format!("{agency} demo publisher"),
            Role::Publisher,
            agency,
        )
        .await?;
        keys.insert(agency.to_owned(), publisher);
    }
    Ok(keys[agency].clone())
}

async fn create(
    creator: &Connection,
    entry: &DatasetEntry,
    published: Option<&PublishedSchema>,
) -> Result<(), CliError> {
    let schema = match &entry.schema {
        SchemaSource::Inline(schema) => Some(schema.to_proto()?),
        SchemaSource::Named(name) if name == "socrata" => {
            let published =
                published.ok_or_else(|| format!("no published schema for {}", entry.id))?;
            let schema = SocrataSchema {
                columns: published.columns.clone(),
                row_identifier: String::new(),
            };
            Some(schema.to_proto()?)
        }
        SchemaSource::Named(name) if name == "infer" || name == "none" => None,
        SchemaSource::Named(other) => {
            return Err(format!("unknown schema source `{other}` for {}", entry.id).into());
        }
    };
    let title = match (entry.title.is_empty(), published) {
        (false, _) | (true, None) => entry.title.clone(),
        (true, Some(published)) => published.title.replace(" ? ", " – "),
    };
    let description = match (entry.description.is_empty(), published) {
        (false, _) | (true, None) => entry.description.clone(),
        (true, Some(published)) => published.description.clone(),
    };
    creator
        .catalog()?
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: entry.agency.clone(),
            metadata: Some(catalog::DatasetMetadata {
                title,
                description,
                category: entry.category.clone(),
                keywords: entry.keywords.clone(),
                accrual_periodicity: entry.frequency.clone(),
                temporal: entry.temporal.clone(),
                license: "https://opendatacommons.org/licenses/pddl/".to_owned(),
                ..Default::default()
            }),
            schema,
            id: entry.id.clone(),
        })
        .await
        .map_err(|status| format!("cannot create dataset {}: {}", entry.id, describe(&status)))?;
    println!("dataset {} created", entry.id);
    Ok(())
}

/// Applies governance's decision about a demo dataset (publish, withhold or retire), skipping
/// what is already done.
async fn decide(cdo: &Connection, entry: &DatasetEntry) -> Result<(), CliError> {
    let frequency = if entry.frequency.is_empty() {
        "irregular"
    } else {
        &entry.frequency
    };
    let justification = "Connecticut demo data: published by the state";
    let fail = |what: &'static str| {
        let id = entry.id.clone();
        move |status: tonic::Status| -> CliError {
            format!("cannot {what} {id}: {}", describe(&status)).into()
        }
    };
    let mut review = cdo.review()?;
    let state = review
        .get_inventory_record(governance::GetInventoryRecordRequest {
            dataset_id: entry.id.clone(),
        })
        .await
        .map(|r| r.into_inner().state())
        .unwrap_or(ReviewState::Inventoried);
    match &entry.governance {
        None => {
            publish_through_review(cdo, &entry.id, justification, frequency).await?;
        }
        Some(Decision::Withhold { .. }) if state == ReviewState::Withheld => {}
        Some(Decision::Withhold {
            ground,
            explanation,
        }) => {
            review
                .withhold(governance::WithholdRequest {
                    dataset_id: entry.id.clone(),
                    ground: parse_ground(ground)? as i32,
                    explanation: explanation.clone(),
                    access_level: AccessLevel::NonPublic as i32,
                })
                .await
                .map_err(fail("withhold"))?;
            println!("dataset {} withheld", entry.id);
        }
        Some(Decision::Retire { .. }) if state == ReviewState::Retired => {}
        Some(Decision::Retire { reason, successor }) => {
            publish_through_review(cdo, &entry.id, justification, frequency).await?;
            review
                .retire(governance::RetireRequest {
                    dataset_id: entry.id.clone(),
                    reason: reason.clone(),
                    successor_dataset_id: successor.clone(),
                })
                .await
                .map_err(fail("retire"))?;
            println!("dataset {} retired", entry.id);
        }
    }
    Ok(())
}
