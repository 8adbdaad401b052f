//! The two datasets governance publishes on the portal itself, as ordinary datasets (queryable
//! with SoQL, downloadable, listed in `/data.json` and search):
//!
//! - **freshness**: one row per published dataset: agency, frequency, last update, due date, status;
//! - **retired assets**: one row per retired dataset: when, why, its successor, whether still public.
//!
//! Governance acts for them as a system principal with the `cdo` role (created once; a fresh key is
//! issued at each start and the previous ones revoked). Each job round recomputes both tables and
//! pushes a table through ingestion only when its rows changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};

use chrono::SecondsFormat;
use opendata_platform::auth::{Principal, Role};
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use opendata_platform::replace_rows::{ReplaceError, replace_rows};
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use opendata_proto::common::v1::{Column, ColumnType, Schema};
use serde::Deserialize;
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::error::GovernanceError;
use crate::identity::{Identity, KeyKind};
use crate::review::state::{ReviewState, Step};
use crate::review::{Caller, Review, store};

/// Name of the system principal.
const SYSTEM_NAME: &str = "opendata governance (system)";
/// Label of its keys.
const SYSTEM_KEY_LABEL: &str = "system: public governance datasets";

/// Which datasets, owned by which agency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicDatasetSettings {
    /// Publish them at all.
    pub enabled: bool,
    /// The owning agency (created if missing).
    pub agency_id: String,
    /// Its name.
    pub agency_name: String,
    /// Id of the freshness dataset.
    pub freshness_dataset_id: String,
    /// Id of the retired-assets dataset.
    pub retired_dataset_id: String,
}

impl Default for PublicDatasetSettings {
    fn default() -> Self {
        PublicDatasetSettings {
            enabled: true,
            agency_id: "cdo".to_owned(),
            agency_name: "Office of the Chief Data Officer".to_owned(),
            freshness_dataset_id: "gov1-frsh".to_owned(),
            retired_dataset_id: "gov1-rtrd".to_owned(),
        }
    }
}

/// One of the datasets: what it is and its columns (display name, type).
struct Table {
    id: String,
    title: &'static str,
    description: &'static str,
    frequency: &'static str,
    columns: &'static [(&'static str, ColumnType)],
}

const FRESHNESS_COLUMNS: &[(&str, ColumnType)] = &[
    ("Dataset ID", ColumnType::Text),
    ("Title", ColumnType::Text),
    ("Agency", ColumnType::Text),
    ("Update Frequency", ColumnType::Text),
    ("Last Updated", ColumnType::Date),
    ("Due", ColumnType::Date),
    ("Status", ColumnType::Text),
];

const RETIRED_COLUMNS: &[(&str, ColumnType)] = &[
    ("Dataset ID", ColumnType::Text),
    ("Title", ColumnType::Text),
    ("Agency", ColumnType::Text),
    ("Retired", ColumnType::Date),
    ("Reason", ColumnType::Text),
    ("Successor", ColumnType::Text),
    ("Still Public", ColumnType::Checkbox),
];

struct System {
    principal: Principal,
    key: String,
}

/// Keeps the public governance datasets current.
pub struct PublicDatasets {
    identity: Identity,
    review: Review,
    catalog: Channel,
    ingestion: Channel,
    settings: PublicDatasetSettings,
    system: Mutex<Option<System>>,
    pushed: Mutex<HashMap<String, u64>>,
}

fn internal(what: &str, status: &tonic::Status) -> GovernanceError {
    if status.code() == tonic::Code::Unauthenticated {
        return GovernanceError::Unauthenticated;
    }
    GovernanceError::CatalogUnavailable(format!("{what}: {}", status.message()))
}

fn iso(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    time.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

impl PublicDatasets {
    /// The publisher, using governance's identity store and workflow and the catalog and
    /// ingestion services.
    pub fn new(
        identity: Identity,
        review: Review,
        catalog: Channel,
        ingestion: Channel,
        settings: PublicDatasetSettings,
    ) -> Self {
        PublicDatasets {
            identity,
            review,
            catalog,
            ingestion,
            settings,
            system: Mutex::new(None),
            pushed: Mutex::new(HashMap::new()),
        }
    }

    fn tables(&self) -> [Table; 2] {
        [
            Table {
                id: self.settings.freshness_dataset_id.clone(),
                title: "Dataset Freshness",
                description: "Every published dataset with its declared update frequency, its last data update, when the next one is due and whether it is current, due or stale (past due plus grace). Maintained by the portal's governance service.",
                frequency: "R/P1D",
                columns: FRESHNESS_COLUMNS,
            },
            Table {
                id: self.settings.retired_dataset_id.clone(),
                title: "Retired Datasets",
                description: "Datasets retired from the portal: when, why, and the dataset that replaces each. A retired dataset stays public for 30 days under an ARCHIVE title, then becomes private. Maintained by the portal's governance service.",
                frequency: "R/P1D",
                columns: RETIRED_COLUMNS,
            },
        ]
    }

    /// The system principal and a fresh key, created on first use; earlier system keys are revoked.
    async fn system(&self) -> Result<(Principal, String), GovernanceError> {
        let mut system = self.system.lock().await;
        if let Some(system) = system.as_ref() {
            return Ok((system.principal.clone(), system.key.clone()));
        }
        let admin = Principal {
            id: crate::review::SYSTEM_ACTOR.to_owned(),
            name: SYSTEM_NAME.to_owned(),
            role: Role::Admin,
            agency_id: None,
            app_token: false,
        };
        match self
            .identity
            .create_agency(&admin, &self.settings.agency_id, &self.settings.agency_name)
            .await
        {
            Ok(_) | Err(GovernanceError::AgencyAlreadyExists(_)) => {}
            Err(error) => return Err(error),
        }
        let existing = self
            .identity
            .list_principals(&admin, None)
            .await?
            .into_iter()
            .find(|p| p.name == SYSTEM_NAME && p.role == Role::Cdo);
        let principal = match existing {
            Some(principal) => principal,
            None => {
                self.identity
                    .create_principal(&admin, SYSTEM_NAME, Role::Cdo, None)
                    .await?
            }
        };
        let (issued, key) = self
            .identity
            .issue_key(&admin, &principal.id, KeyKind::ApiKey, SYSTEM_KEY_LABEL)
            .await?;
        for old in self.identity.list_keys(&admin, &principal.id).await? {
            if old.id != issued.id && old.revoked_at.is_none() && old.label == SYSTEM_KEY_LABEL {
                self.identity
                    .revoke_key(&admin, &old.id.to_string())
                    .await?;
            }
        }
        *system = Some(System {
            principal: principal.clone(),
            key: key.clone(),
        });
        Ok((principal, key))
    }

    /// Creates the dataset if needed and takes it through the workflow to published; whether it is
    /// published (and so should get its rows).
    async fn ensure(
        &self,
        table: &Table,
        principal: &Principal,
        key: &str,
    ) -> Result<bool, GovernanceError> {
        let context = ClientContext::with_key(key).map_err(GovernanceError::Denied)?;
        let mut catalog = CatalogServiceClient::with_interceptor(self.catalog.clone(), context)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let created = catalog
            .create_dataset(catalog::CreateDatasetRequest {
                agency_id: self.settings.agency_id.clone(),
                metadata: Some(catalog::DatasetMetadata {
                    title: table.title.to_owned(),
                    description: table.description.to_owned(),
                    keywords: vec!["governance".to_owned(), "open data".to_owned()],
                    category: "Government".to_owned(),
                    accrual_periodicity: table.frequency.to_owned(),
                    ..Default::default()
                }),
                schema: Some(Schema {
                    columns: table
                        .columns
                        .iter()
                        .map(|(name, column_type)| Column {
                            display_name: (*name).to_owned(),
                            r#type: *column_type as i32,
                            ..Default::default()
                        })
                        .collect(),
                    row_identifier: String::new(),
                }),
                id: table.id.clone(),
            })
            .await;
        match created {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::AlreadyExists => {
                // Only ours: an agency that took the id must not get its dataset published by
                // the system.
                let existing = catalog
                    .get_dataset(catalog::GetDatasetRequest {
                        id: table.id.clone(),
                    })
                    .await
                    .map_err(|status| internal("reading a governance dataset", &status))?
                    .into_inner();
                if existing.agency_id != self.settings.agency_id
                    || existing.owner_id != principal.id
                {
                    return Err(GovernanceError::Internal(format!(
                        "dataset id {} is taken by another dataset (agency {}); choose other ids in governance.public_datasets",
                        table.id, existing.agency_id
                    )));
                }
            }
            Err(status) => return Err(internal("creating a governance dataset", &status)),
        }
        let caller = Caller { principal, key };
        loop {
            let record = store::fetch(self.review.pool(), &table.id, false).await?;
            // The system advances its own datasets only while no person has acted on them: a
            // CDO who withholds, reopens or retires one decides for it.
            if let Some(record) = &record {
                let history = store::history(self.review.pool(), &record.dataset_id).await?;
                if history.iter().any(|t| t.actor_id != principal.id) {
                    return Ok(record.state == ReviewState::Published);
                }
            }
            let state = record.map(|record| record.state);
            let step = match state {
                // Nominating also registers the record from the catalog if its event is late.
                None | Some(ReviewState::Inventoried) => {
                    self.review
                        .nominate(
                            &caller,
                            &table.id,
                            "the public's view of governance",
                            table.frequency,
                        )
                        .await?;
                    continue;
                }
                Some(ReviewState::Nominated) => Step::StartReview,
                Some(ReviewState::UnderReview) => Step::Approve,
                Some(ReviewState::Approved) => Step::Publish,
                Some(ReviewState::Published) => return Ok(true),
                Some(ReviewState::Withheld | ReviewState::Retired) => return Ok(false),
            };
            self.review
                .simple_step(&caller, step, &table.id, "maintained by governance")
                .await?;
        }
    }

    /// The CSV of the freshness table.
    async fn freshness_csv(&self) -> Result<Vec<u8>, GovernanceError> {
        let own = [
            self.settings.freshness_dataset_id.as_str(),
            self.settings.retired_dataset_id.as_str(),
        ];
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(FRESHNESS_COLUMNS.iter().map(|(name, _)| *name))
            .map_err(csv_error)?;
        for record in store::list(self.review.pool(), None, &[ReviewState::Published]).await? {
            if own.contains(&record.dataset_id.as_str()) {
                continue;
            }
            let freshness = self.review.freshness(&record);
            writer
                .write_record([
                    record.dataset_id.clone(),
                    record.title.clone(),
                    record.agency_id.clone(),
                    record.accrual_periodicity.clone(),
                    iso(freshness.last_updated_at),
                    iso(freshness.due_at),
                    freshness.status.as_str().to_owned(),
                ])
                .map_err(csv_error)?;
        }
        writer
            .into_inner()
            .map_err(|e| GovernanceError::Internal(e.to_string()))
    }

    /// The CSV of the retired-assets table.
    async fn retired_csv(&self) -> Result<Vec<u8>, GovernanceError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(RETIRED_COLUMNS.iter().map(|(name, _)| *name))
            .map_err(csv_error)?;
        for record in store::list(self.review.pool(), None, &[ReviewState::Retired]).await? {
            let history = store::history(self.review.pool(), &record.dataset_id).await?;
            let reason = history
                .iter()
                .rev()
                .find(|t| t.to_state == "retired" && t.from_state != "retired")
                .map(|t| t.reason.clone())
                .unwrap_or_default();
            writer
                .write_record([
                    record.dataset_id.clone(),
                    record.title.clone(),
                    record.agency_id.clone(),
                    iso(record.retired_at),
                    reason,
                    record.successor_dataset_id.clone(),
                    record.public.to_string(),
                ])
                .map_err(csv_error)?;
        }
        writer
            .into_inner()
            .map_err(|e| GovernanceError::Internal(e.to_string()))
    }

    /// Replaces a dataset's rows with `file`.
    async fn push(
        &self,
        key: &str,
        dataset_id: &str,
        file: Vec<u8>,
    ) -> Result<(), GovernanceError> {
        match replace_rows(self.ingestion.clone(), key, dataset_id, file).await {
            Ok(_) => Ok(()),
            Err(ReplaceError::Unauthenticated(_)) => Err(GovernanceError::Unauthenticated),
            Err(error) => Err(GovernanceError::Internal(format!(
                "governance dataset {dataset_id}: {error}"
            ))),
        }
    }

    /// One round: make sure both datasets exist and are published, and push what changed. When the
    /// key is refused the next round starts with a fresh one (another replica may have taken the
    /// jobs over meanwhile and revoked this one's).
    pub async fn refresh(&self) -> Result<usize, GovernanceError> {
        if !self.settings.enabled {
            return Ok(0);
        }
        let outcome = self.refresh_with_key().await;
        if matches!(outcome, Err(GovernanceError::Unauthenticated)) {
            *self.system.lock().await = None;
        }
        outcome
    }

    async fn refresh_with_key(&self) -> Result<usize, GovernanceError> {
        let (principal, key) = self.system().await?;
        let mut pushed = 0;
        for (index, table) in self.tables().iter().enumerate() {
            if !self.ensure(table, &principal, &key).await? {
                continue;
            }
            let file = if index == 0 {
                self.freshness_csv().await?
            } else {
                self.retired_csv().await?
            };
            let mut hasher = DefaultHasher::new();
            file.hash(&mut hasher);
            let hash = hasher.finish();
            if self.pushed.lock().await.get(&table.id) == Some(&hash) {
                continue;
            }
            self.push(&key, &table.id, file).await?;
            self.pushed.lock().await.insert(table.id.clone(), hash);
            pushed += 1;
        }
        Ok(pushed)
    }
}

fn csv_error(error: csv::Error) -> GovernanceError {
    GovernanceError::Internal(error.to_string())
}
