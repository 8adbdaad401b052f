//! Administration commands: agencies, principals, keys and datasets.

use std::path::PathBuf;

use clap::Subcommand;
use opendata_platform::auth::Role;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1 as ingestion;

use crate::client::{CliError, Connection, describe};
use crate::schema_file::SocrataSchema;

/// Reads a role name (`cdo`, `ado`, `publisher`, `panel`, `admin`).
fn parse_role(name: &str) -> Result<Role, String> {
    Role::parse(name)
        .ok_or_else(|| format!("`{name}` is not a role: use cdo, ado, publisher, panel or admin"))
}

/// `opendata agency ...`.
#[derive(Debug, Subcommand)]
pub enum AgencyCommand {
    /// Creates an agency.
    Create {
        /// Short id (`opm`).
        #[arg(long)]
        id: String,
        /// Full name.
        #[arg(long)]
        name: String,
    },
    /// Lists agencies.
    List,
}

/// `opendata principal ...`.
#[derive(Debug, Subcommand)]
pub enum PrincipalCommand {
    /// Creates a principal with one role.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role: cdo, ado, publisher, panel or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Agency, for `ado` and `publisher`.
        #[arg(long, default_value = "")]
        agency: String,
    },
    /// Lists principals.
    List {
        /// Only this agency's.
        #[arg(long, default_value = "")]
        agency: String,
    },
}

/// `opendata key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issues a key and prints its secret once.
    Issue {
        /// Principal id.
        #[arg(long)]
        principal: String,
        /// What the key is for.
        #[arg(long, default_value = "")]
        label: String,
        /// Issue an app token (no rights; identifies an application) instead of an API key.
        #[arg(long)]
        app_token: bool,
    },
    /// Revokes a key.
    Revoke {
        /// Key id.
        #[arg(long)]
        id: String,
    },
    /// Lists a principal's keys.
    List {
        /// Principal id.
        #[arg(long)]
        principal: String,
    },
}

/// `opendata dataset ...`.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Creates a dataset.
    Create {
        /// Owning agency.
        #[arg(long)]
        agency: String,
        /// Title.
        #[arg(long)]
        title: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Requested id (`abcd-1234`); generated when absent.
        #[arg(long, default_value = "")]
        id: String,
        /// Category.
        #[arg(long, default_value = "")]
        category: String,
        /// Tags, comma separated.
        #[arg(long, value_delimiter = ',')]
        keywords: Vec<String>,
        /// Update frequency, ISO 8601 (`R/P1M`).
        #[arg(long, default_value = "")]
        frequency: String,
        /// Schema file: `{"columns": [{"fieldName", "name", "dataTypeName", "description"}], "rowIdentifier"}`.
        #[arg(long)]
        schema: Option<PathBuf>,
    },
    /// Shows a dataset.
    Get {
        /// Dataset id.
        id: String,
    },
    /// Lists datasets.
    List {
        /// Only this agency's.
        #[arg(long, default_value = "")]
        agency: String,
    },
    /// Shows how long a dataset's replaced versions are kept; with an option, sets it (its
    /// agency's ADO, or the CDO).
    Retention {
        /// Dataset id.
        id: String,
        /// Days a replaced version stays readable after it was replaced (0 to 36500).
        #[arg(long)]
        keep_days: Option<u32>,
        /// The newest versions kept whatever their age, the current one included (1 to 10000).
        #[arg(long)]
        keep_versions: Option<u32>,
        /// Follow the service's default again.
        #[arg(long, conflicts_with_all = ["keep_days", "keep_versions"])]
        default: bool,
    },
    /// Purges a replaced version at once (data published by mistake): its rows can no longer be
    /// read; the reason shows in the version history (its agency's ADO, or the CDO).
    Purge {
        /// Dataset id.
        id: String,
        /// The version.
        #[arg(long)]
        version: i64,
        /// Why (shown publicly in the version history).
        #[arg(long)]
        reason: String,
    },
}

fn fail(what: &str) -> impl Fn(tonic::Status) -> CliError + '_ {
    move |status| format!("{what}: {}", describe(&status)).into()
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs an agency command.
pub async fn agency(connection: &Connection, command: AgencyCommand) -> Result<(), CliError> {
    let mut identity = connection.identity()?;
    match command {
        AgencyCommand::Create { id, name } => {
            let agency = identity
                .create_agency(governance::CreateAgencyRequest { id, name })
                .await
                .map_err(fail("cannot create the agency"))?
                .into_inner();
            println!("agency {} created: {}", agency.id, agency.name);
        }
        AgencyCommand::List => {
            let agencies = identity
                .list_agencies(governance::ListAgenciesRequest {})
                .await
                .map_err(fail("cannot list agencies"))?
                .into_inner();
            for agency in agencies.agencies {
                println!("{:<12} {}", agency.id, agency.name);
            }
        }
    }
    Ok(())
}

/// Runs a principal command.
pub async fn principal(connection: &Connection, command: PrincipalCommand) -> Result<(), CliError> {
    let mut identity = connection.identity()?;
    match command {
        PrincipalCommand::Create { name, role, agency } => {
            let principal = identity
                .create_principal(governance::CreatePrincipalRequest {
                    name,
                    role: role.to_proto() as i32,
                    agency_id: agency,
                })
                .await
                .map_err(fail("cannot create the principal"))?
                .into_inner();
            println!(
                "principal {} created ({:?})",
                principal.id,
                principal.role()
            );
        }
        PrincipalCommand::List { agency } => {
            let principals = identity
                .list_principals(governance::ListPrincipalsRequest { agency_id: agency })
                .await
                .map_err(fail("cannot list principals"))?
                .into_inner();
            for principal in principals.principals {
                println!(
                    "{}  {:<10} {:<8} {}",
                    principal.id,
                    format!("{:?}", principal.role()).to_lowercase(),
                    principal.agency_id,
                    principal.name
                );
            }
        }
    }
    Ok(())
}

/// Runs a key command.
pub async fn key(connection: &Connection, command: KeyCommand) -> Result<(), CliError> {
    let mut identity = connection.identity()?;
    match command {
        KeyCommand::Issue {
            principal,
            label,
            app_token,
        } => {
            let kind = if app_token {
                governance::KeyKind::AppToken
            } else {
                governance::KeyKind::ApiKey
            };
            let issued = identity
                .issue_key(governance::IssueKeyRequest {
                    principal_id: principal,
                    label,
                    kind: kind as i32,
                })
                .await
                .map_err(fail("cannot issue the key"))?
                .into_inner();
            let key = issued.key.unwrap_or_default();
            println!(
                "key {} issued; store the secret now, it is not shown again:",
                key.id
            );
            println!("{}", issued.secret);
        }
        KeyCommand::Revoke { id } => {
            identity
                .revoke_key(governance::RevokeKeyRequest { key_id: id.clone() })
                .await
                .map_err(fail("cannot revoke the key"))?;
            println!("key {id} revoked");
        }
        KeyCommand::List { principal } => {
            let keys = identity
                .list_keys(governance::ListKeysRequest {
                    principal_id: principal,
                })
                .await
                .map_err(fail("cannot list keys"))?
                .into_inner();
            for key in keys.keys {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "valid"
                };
                println!("{}  {}…  {:<7} {}", key.id, key.prefix, state, key.label);
            }
        }
    }
    Ok(())
}

/// Runs a dataset command.
pub async fn dataset(connection: &Connection, command: DatasetCommand) -> Result<(), CliError> {
    let mut catalog = connection.catalog()?;
    match command {
        DatasetCommand::Create {
            agency,
            title,
            description,
            id,
            category,
            keywords,
            frequency,
            schema,
        } => {
            let schema = match schema {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let schema: SocrataSchema = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    Some(schema.to_proto()?)
                }
                None => None,
            };
            let dataset = catalog
                .create_dataset(catalog::CreateDatasetRequest {
                    agency_id: agency,
                    metadata: Some(catalog::DatasetMetadata {
                        title,
                        description,
                        category,
                        keywords,
                        accrual_periodicity: frequency,
                        ..Default::default()
                    }),
                    schema,
                    id,
                })
                .await
                .map_err(fail("cannot create the dataset"))?
                .into_inner();
            println!("dataset {} created", dataset.id);
        }
        DatasetCommand::Get { id } => {
            let dataset = catalog
                .get_dataset(catalog::GetDatasetRequest { id })
                .await
                .map_err(fail("cannot read the dataset"))?
                .into_inner();
            print_json(&serde_json::json!({
                "id": dataset.id,
                "agency": dataset.agency_id,
                "title": dataset.metadata.as_ref().map(|m| m.title.clone()),
                "published": dataset.publication_stage == catalog::PublicationStage::Published as i32,
                "version": dataset.current_version,
                "rows": dataset.row_count,
                "columns": dataset.schema.unwrap_or_default().columns.iter().map(|c| c.field_name.clone()).collect::<Vec<_>>(),
            }))?;
        }
        DatasetCommand::Retention {
            id,
            keep_days,
            keep_versions,
            default,
        } => retention(connection, id, keep_days, keep_versions, default).await?,
        DatasetCommand::Purge {
            id,
            version,
            reason,
        } => {
            let purged = connection
                .ingestion()?
                .purge_version(ingestion::PurgeVersionRequest {
                    dataset_id: id,
                    version,
                    reason,
                })
                .await
                .map_err(fail("cannot purge the version"))?
                .into_inner();
            println!(
                "version {} of {} purged ({} rejected rows deleted)",
                purged.version, purged.dataset_id, purged.rejections_deleted
            );
        }
        DatasetCommand::List { agency } => {
            let mut page_token = String::new();
            loop {
                let page = catalog
                    .list_datasets(catalog::ListDatasetsRequest {
                        agency_id: agency.clone(),
                        page_token: page_token.clone(),
                        ..Default::default()
                    })
                    .await
                    .map_err(fail("cannot list datasets"))?
                    .into_inner();
                for dataset in &page.datasets {
                    let title = dataset
                        .metadata
                        .as_ref()
                        .map(|m| m.title.as_str())
                        .unwrap_or_default();
                    println!(
                        "{}  {:<8} v{:<3} {:>9} rows  {}",
                        dataset.id,
                        dataset.agency_id,
                        dataset.current_version,
                        dataset.row_count,
                        title
                    );
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
    }
    Ok(())
}

/// Shows, or sets, a dataset's retention; a number not given stays as it is.
async fn retention(
    connection: &Connection,
    dataset_id: String,
    keep_days: Option<u32>,
    keep_versions: Option<u32>,
    default: bool,
) -> Result<(), CliError> {
    let mut client = connection.ingestion()?;
    let retention = if default || keep_days.is_some() || keep_versions.is_some() {
        client
            .set_retention(ingestion::SetRetentionRequest {
                dataset_id,
                keep_days,
                keep_versions,
                use_default: default,
            })
            .await
            .map_err(fail("cannot set the retention"))?
            .into_inner()
    } else {
        client
            .get_retention(ingestion::GetRetentionRequest { dataset_id })
            .await
            .map_err(fail("cannot read the retention"))?
            .into_inner()
    };
    let whose = if retention.is_default {
        "the service's default".to_owned()
    } else {
        format!("set by {}", retention.set_by)
    };
    println!(
        "{}: replaced versions kept {} days, and always the newest {} ({whose})",
        retention.dataset_id, retention.keep_days, retention.keep_versions
    );
    Ok(())
}
