//! Retention's tables: each dataset's own policy, and the purge record on `versions`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::KeepPolicy;

/// A dataset's own policy, who set it and when.
pub struct OwnPolicy {
    pub policy: KeepPolicy,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// The dataset's own policy, if it has one.
pub async fn own_policy(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
) -> Result<Option<OwnPolicy>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT keep_days, keep_versions, set_by, set_at FROM retention_policies \
         WHERE dataset_id = $1",
        dataset_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| OwnPolicy {
        policy: KeepPolicy {
            keep_days: row.keep_days,
            keep_versions: row.keep_versions,
        },
        set_by: row.set_by,
        set_at: row.set_at,
    }))
}

/// Sets the dataset's own policy.
pub async fn set_policy(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    policy: KeepPolicy,
    set_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO retention_policies (dataset_id, keep_days, keep_versions, set_by) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (dataset_id) DO UPDATE \
         SET keep_days = $2, keep_versions = $3, set_by = $4, set_at = now()",
        dataset_id,
        policy.keep_days,
        policy.keep_versions,
        set_by,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Forgets the dataset's own policy (the service's default applies again).
pub async fn clear_policy(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM retention_policies WHERE dataset_id = $1",
        dataset_id
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// A committed version, as a purge sees it.
pub struct PurgeTarget {
    pub upload_id: Uuid,
    /// Its view (its table, before generations).
    pub table_name: String,
    pub generation: Option<String>,
    /// Already gone (past retention, or purged).
    pub dropped: bool,
    /// A newer version is live in the catalog (ingestion learned it retired this one).
    pub replaced: bool,
    pub purged_at: Option<DateTime<Utc>>,
}

/// Version `version` of the dataset, if it was committed.
pub async fn purge_target(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    version: i64,
) -> Result<Option<PurgeTarget>, sqlx::Error> {
    sqlx::query_as!(
        PurgeTarget,
        r#"SELECT upload_id, table_name, generation, dropped_at IS NOT NULL AS "dropped!",
                  retired_at IS NOT NULL AS "replaced!", purged_at
           FROM versions WHERE dataset_id = $1 AND version = $2"#,
        dataset_id,
        version,
    )
    .fetch_optional(executor)
    .await
}

/// Records the purge (and marks the version dropped, if it was not already); when.
pub async fn mark_purged(
    executor: impl PgExecutor<'_>,
    dataset_id: &str,
    version: i64,
    purged_by: &str,
    reason: &str,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE versions SET purged_at = now(), purged_by = $3, purge_reason = $4,
                  dropped_at = coalesce(dropped_at, now())
           WHERE dataset_id = $1 AND version = $2 RETURNING purged_at AS "purged_at!""#,
        dataset_id,
        version,
        purged_by,
        reason,
    )
    .fetch_one(executor)
    .await
}

/// Deletes an upload's rejected rows (they carry its values); how many.
pub async fn delete_rejections(
    executor: impl PgExecutor<'_>,
    upload_id: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("DELETE FROM rejections WHERE upload_id = $1", upload_id)
            .execute(executor)
            .await?
            .rows_affected(),
    )
}
