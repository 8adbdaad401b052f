//! Retention: how long a dataset's replaced versions stay readable with `$version` (its own
//! policy, else the service's default: a year after being replaced, and always the newest ten),
//! and purging a version at once (data published by mistake), recorded with who and why. The
//! janitor applies the policy; a purge drops the version within the request.

use chrono::{DateTime, Utc};
use opendata_limits::{RETENTION_DAYS, RETENTION_VERSIONS, TEXT_NAME};
use opendata_platform::authz::Action;
use opendata_platform::error::{ApiError, ErrorCode};

use crate::error::IngestionError;
use crate::events::{Purge, emit_version_purged};
use crate::service::{Caller, Ingestion, parse_dataset_id};
use crate::store::{self, StoredVersion};

mod tables;

/// How long replaced versions are kept: `keep_days` after being replaced, and the newest
/// `keep_versions` (not counting purged ones) whatever their age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepPolicy {
    pub keep_days: i32,
    pub keep_versions: i32,
}

/// A dataset's retention.
pub struct Retention {
    pub dataset_id: String,
    pub policy: KeepPolicy,
    /// Who set the dataset's own policy and when; `None` when the default applies.
    pub set: Option<(String, DateTime<Utc>)>,
}

/// What `SetRetention` asks for.
pub enum RetentionChange {
    /// The dataset's own policy; a number not given stays as it is (the default's, for a
    /// dataset without its own yet).
    Own {
        keep_days: Option<u32>,
        keep_versions: Option<u32>,
    },
    /// The service's default again.
    Default,
}

/// A purged version.
pub struct Purged {
    pub dataset_id: String,
    pub version: i64,
    /// Rejected rows of its upload deleted.
    pub rejections_deleted: u64,
    pub purged_at: DateTime<Utc>,
}

impl Ingestion {
    /// The dataset's retention, for anyone who may see the dataset.
    pub async fn retention(
        &self,
        caller: &Caller,
        dataset_id: &str,
    ) -> Result<Retention, IngestionError> {
        let id = parse_dataset_id(dataset_id)?;
        self.dataset(caller, &id).await?;
        self.retention_of(id.as_str()).await
    }

    /// Sets (or clears) the dataset's own retention: its agency's ADO, or the CDO.
    pub async fn set_retention(
        &self,
        caller: &Caller,
        dataset_id: &str,
        change: RetentionChange,
    ) -> Result<Retention, IngestionError> {
        let id = parse_dataset_id(dataset_id)?;
        let dataset = self.dataset(caller, &id).await?;
        caller
            .principal
            .authorize(Action::ManageVersions, Some(&dataset.agency_id))?;
        match change {
            RetentionChange::Own {
                keep_days,
                keep_versions,
            } => {
                let current = self.retention_of(id.as_str()).await?.policy;
                let policy = KeepPolicy {
                    keep_days: match keep_days {
                        Some(days) => within("keep_days", days, 0, &RETENTION_DAYS)?,
                        None => current.keep_days,
                    },
                    keep_versions: match keep_versions {
                        Some(versions) => {
                            within("keep_versions", versions, 1, &RETENTION_VERSIONS)?
                        }
                        None => current.keep_versions,
                    },
                };
                tables::set_policy(&self.pool, id.as_str(), policy, &caller.principal.id).await?;
                tracing::info!(dataset_id = %id, keep_days = policy.keep_days, keep_versions = policy.keep_versions, by = %caller.principal.id, "retention set");
            }
            RetentionChange::Default => {
                tables::clear_policy(&self.pool, id.as_str()).await?;
                tracing::info!(dataset_id = %id, by = %caller.principal.id, "retention back to the default");
            }
        }
        self.retention_of(id.as_str()).await
    }

    async fn retention_of(&self, dataset_id: &str) -> Result<Retention, IngestionError> {
        Ok(match tables::own_policy(&self.pool, dataset_id).await? {
            Some(own) => Retention {
                dataset_id: dataset_id.to_owned(),
                policy: own.policy,
                set: Some((own.set_by, own.set_at)),
            },
            None => Retention {
                dataset_id: dataset_id.to_owned(),
                policy: self.settings.default_retention(),
                set: None,
            },
        })
    }

    /// Purges a replaced version: its view goes, the generation's rows no kept version holds are
    /// deleted, and so are its upload's rejected rows (which carry values); the purge is recorded
    /// and announced (`version_purged`). Its agency's ADO, or the CDO.
    pub async fn purge(
        &self,
        caller: &Caller,
        dataset_id: &str,
        version: i64,
        reason: &str,
    ) -> Result<Purged, IngestionError> {
        let id = parse_dataset_id(dataset_id)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(IngestionError::invalid(
                "reason",
                "say why the version is purged: the reason is shown in the version history",
            ));
        }
        if let Some(problem) = TEXT_NAME.text_problem(reason) {
            return Err(IngestionError::Invalid {
                field: "reason".to_owned(),
                message: format!("reason: {problem}"),
                limit: Some(TEXT_NAME.name),
            });
        }
        let dataset = self.dataset(caller, &id).await?;
        caller
            .principal
            .authorize(Action::ManageVersions, Some(&dataset.agency_id))?;

        let mut tx = self.pool.begin().await?;
        store::lock_versions(&mut tx, id.as_str()).await?;
        let Some(target) = tables::purge_target(&mut *tx, id.as_str(), version).await? else {
            return Err(ApiError::new(
                ErrorCode::VersionNotFound,
                format!(
                    "dataset {id} has no version {version}; GET /api/views/{id}/versions lists them"
                ),
            )
            .with("version", version)
            .into());
        };
        if let Some(purged_at) = target.purged_at {
            return Err(conflict(
                format!(
                    "version {version} of dataset {id} was already purged, at {}",
                    purged_at.to_rfc3339()
                ),
                version,
            ));
        }
        // Replaced means the catalog serves a newer version: until then readers may be on it.
        if !target.replaced {
            return Err(conflict(
                format!(
                    "version {version} is the current version of dataset {id} (or its \
                     replacement is not live yet): push a replacement first (or withhold the \
                     dataset), then purge it"
                ),
                version,
            ));
        }
        if !target.dropped {
            let retired = StoredVersion {
                dataset_id: id.to_string(),
                version,
                table_name: target.table_name,
                generation: target.generation,
            };
            if !store::drop_version(&mut tx, &retired).await? {
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("a query is still reading version {version}; nothing was purged, try again in a minute"),
                )
                .into());
            }
        }
        let rejections_deleted = tables::delete_rejections(&mut *tx, target.upload_id).await?;
        store::delete_chunks(&mut *tx, target.upload_id).await?;
        let purged_at =
            tables::mark_purged(&mut *tx, id.as_str(), version, &caller.principal.id, reason)
                .await?;
        emit_version_purged(
            &mut tx,
            &Purge {
                dataset_id: id.as_str(),
                version,
                reason,
                purged_by: &caller.principal,
                purged_at,
            },
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(dataset_id = %id, version, by = %caller.principal.id, reason, "version purged");
        Ok(Purged {
            dataset_id: id.to_string(),
            version,
            rejections_deleted,
            purged_at,
        })
    }
}

/// `value` as a policy number from `least` to `limit`, or the error naming `field` and the limit.
fn within(
    field: &str,
    value: u32,
    least: u64,
    limit: &opendata_limits::Limit,
) -> Result<i32, IngestionError> {
    let most = limit.value;
    if (least..=most).contains(&u64::from(value)) {
        return Ok(value as i32);
    }
    Err(IngestionError::Invalid {
        field: field.to_owned(),
        message: format!("{field} must be from {least} to {most}, not {value}"),
        limit: Some(limit.name),
    })
}

/// A purge the version's state does not allow, naming the version.
fn conflict(message: String, version: i64) -> IngestionError {
    ApiError::new(ErrorCode::VersionStateConflict, message)
        .with("version", version)
        .into()
}
