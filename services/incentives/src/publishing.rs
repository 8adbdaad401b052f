//! The award table as an ordinary portal dataset (`decd-awrd` by default): readable with SoQL at
//! `/resource/{id}`, downloadable, searchable, listed in `/data.json` once published.
//!
//! The service acts as DECD's automation account, whose key DECD's ADO hands it
//! (`SetPublisherKey`). A job creates the dataset under DECD's agency if needed and, whenever the
//! awards changed (or the day did, since obligation statuses follow the calendar), replaces its
//! rows through ingestion, like any agency's scheduled push. Publication itself goes through
//! governance: DECD's ADO nominates the dataset and the CDO publishes it.

use std::sync::Arc;

use chrono::NaiveDate;
use futures::TryStreamExt as _;
use opendata_platform::auth::Principal;
use opendata_platform::authz::Action;
use opendata_platform::clock::Clock;
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use opendata_platform::replace_rows::{ReplaceError, replace_rows};
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use opendata_proto::common::v1::Schema;
use serde::Deserialize;
use sqlx::PgPool;
use tonic::transport::Channel;

use crate::dataset_columns;
use crate::error::{IncentivesError, required};
use crate::ledger::Ledger;
use crate::store::publishing as store;
use crate::store::query::Filter;

/// The award dataset's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetSettings {
    /// Its id.
    pub id: String,
    /// Seconds between checks for changes.
    pub sync_interval_secs: u64,
}

impl Default for DatasetSettings {
    fn default() -> Self {
        DatasetSettings {
            id: "decd-awrd".to_owned(),
            sync_interval_secs: 5,
        }
    }
}

pub use crate::store::publishing::Status;

/// Keeps the award dataset current; cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    ledger: Ledger,
    clock: Arc<dyn Clock>,
    catalog: Channel,
    ingestion: Channel,
    agency_id: Arc<str>,
    settings: DatasetSettings,
}

impl Publisher {
    /// The publisher of `ledger`'s awards, owned by `agency_id`.
    pub fn new(
        ledger: Ledger,
        clock: Arc<dyn Clock>,
        channels: (Channel, Channel),
        agency_id: &str,
        settings: DatasetSettings,
    ) -> Self {
        let (catalog, ingestion) = channels;
        Publisher {
            ledger,
            clock,
            catalog,
            ingestion,
            agency_id: agency_id.into(),
            settings,
        }
    }

    /// The dataset's id.
    pub fn dataset_id(&self) -> &str {
        &self.settings.id
    }

    fn pool(&self) -> &PgPool {
        self.ledger.pool()
    }

    /// Stores the automation key after checking, with governance, that it is one of the agency's
    /// writers.
    pub async fn set_key(
        &self,
        who: &Principal,
        key: &str,
        key_owner: Result<Principal, opendata_platform::error::ApiError>,
    ) -> Result<Status, IncentivesError> {
        self.ledger.authorize(who)?;
        required("api_key", key)?;
        let owner = key_owner.map_err(|error| {
            IncentivesError::invalid("api_key", format!("is not a usable key: {}", error.message))
        })?;
        // One of the agency's own writers: a key reaching every agency (an admin's, the CDO's)
        // must not be stored for an automation.
        let own = owner.agency_id.as_deref() == Some(&*self.agency_id);
        if !own || !owner.may(Action::WriteDatasets, Some(&self.agency_id)) {
            return Err(IncentivesError::invalid(
                "api_key",
                format!(
                    "belongs to a {} of {}: the key must be one of {}'s publishers or its ADO",
                    owner.role.as_str(),
                    owner.agency_id.as_deref().unwrap_or("no agency"),
                    self.agency_id
                ),
            ));
        }
        store::set_key(self.pool(), key.trim(), &who.id, self.clock.now()).await?;
        self.status().await
    }

    /// Where the dataset stands.
    pub async fn status(&self) -> Result<Status, IncentivesError> {
        Ok(store::status(self.pool()).await?.unwrap_or_default())
    }

    /// One round: when a key is set and the awards (or the day) changed since the last push,
    /// makes sure the dataset exists and replaces its rows. Whether it pushed.
    pub async fn sync(&self) -> Result<bool, IncentivesError> {
        let mut tx = self.pool().begin().await?;
        if !store::try_lock(&mut tx).await? {
            return Ok(false);
        }
        let Some((key, pushed_state)) = store::key_and_pushed_state(&mut tx).await? else {
            return Ok(false);
        };
        let today = self.clock.now().date_naive();
        // The awards' generation moves with every change to them (a trigger), whatever the
        // clock says; the day matters too, since obligations follow the calendar.
        let generation = crate::store::query::generation(&mut tx).await?;
        let state = format!("{generation}/{today}");
        if state == pushed_state {
            return Ok(false);
        }
        let outcome = self.push(&key, today).await;
        match &outcome {
            Ok(rows) => {
                store::record_push(&mut tx, &state, self.clock.now(), *rows as i64).await?;
            }
            Err(error) => {
                store::record_failure(&mut tx, &error.to_string()).await?;
            }
        }
        tx.commit().await?;
        outcome.map(|_| true).map_err(|error| {
            IncentivesError::Publishing(format!("dataset {}: {error}", self.settings.id))
        })
    }

    /// Creates the dataset if needed, then replaces its rows with every current award.
    async fn push(&self, key: &str, today: NaiveDate) -> Result<u64, PushError> {
        self.ensure_dataset(key).await?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(dataset_columns::header())?;
        let mut batches = std::pin::pin!(self.ledger.export(Filter::default()));
        while let Some(batch) = batches.try_next().await? {
            for award in &batch {
                writer.write_record(dataset_columns::row(award, today))?;
            }
        }
        let file = writer
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        Ok(replace_rows(self.ingestion.clone(), key, &self.settings.id, file).await?)
    }

    async fn ensure_dataset(&self, key: &str) -> Result<(), PushError> {
        let context =
            ClientContext::with_key(key).map_err(|e| ReplaceError::Unauthenticated(e.message))?;
        let mut catalog = CatalogServiceClient::with_interceptor(self.catalog.clone(), context)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let created = catalog
            .create_dataset(catalog::CreateDatasetRequest {
                id: self.settings.id.clone(),
                agency_id: self.agency_id.to_string(),
                metadata: Some(catalog::DatasetMetadata {
                    title: "Economic Assistance and Tax Credit Awards".to_owned(),
                    description: "Every business that received economic assistance or tax credits from the Department of Economic and Community Development to be recruited or retained in Connecticut (Executive Order 38): how much, through which program, what it promised in jobs and what job reviews found. Kept current by DECD's incentives database; the same records are searchable at /api/incentives/.".to_owned(),
                    keywords: ["economic development", "incentives", "grants", "loans", "tax credits", "jobs", "decd"]
                        .map(str::to_owned)
                        .to_vec(),
                    category: "Business".to_owned(),
                    accrual_periodicity: "R/P1D".to_owned(),
                    ..Default::default()
                }),
                schema: Some(Schema {
                    columns: dataset_columns::schema_columns(),
                    row_identifier: "award_id".to_owned(),
                }),
            })
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(status) if status.code() == tonic::Code::AlreadyExists => {
                let existing = catalog
                    .get_dataset(catalog::GetDatasetRequest {
                        id: self.settings.id.clone(),
                    })
                    .await;
                match existing {
                    Ok(dataset) if dataset.get_ref().agency_id == *self.agency_id => Ok(()),
                    Ok(dataset) => Err(PushError::Taken(format!(
                        "agency {}",
                        dataset.into_inner().agency_id
                    ))),
                    // It exists, yet the agency's key cannot see it: another agency's.
                    Err(status) if status.code() == tonic::Code::NotFound => {
                        Err(PushError::Taken("another agency".to_owned()))
                    }
                    Err(status) => Err(PushError::catalog(status)),
                }
            }
            Err(status) => Err(PushError::catalog(status)),
        }
    }
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error(transparent)]
    Replace(#[from] ReplaceError),
    #[error("the catalog refused: {0}")]
    Catalog(String),
    #[error("the dataset id is taken by a dataset of {0}; set incentives.dataset.id")]
    Taken(String),
    #[error("writing the file: {0}")]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Read(#[from] IncentivesError),
}

impl PushError {
    fn catalog(status: tonic::Status) -> PushError {
        PushError::Catalog(status.message().to_owned())
    }
}
