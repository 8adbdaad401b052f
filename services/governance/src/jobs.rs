//! Governance's scheduled jobs: announce datasets that turned stale, make private the retired
//! datasets whose 30 days are over, delete long-expired web sessions, and refresh the public
//! governance datasets. One replica runs them at a time (a PostgreSQL advisory lock).

use opendata_platform::db::try_transaction_lock;
use sqlx::PgPool;

use crate::public_datasets::PublicDatasets;
use crate::review::Review;

/// Advisory lock key of the jobs ("gov-jobs").
const LOCK_KEY: i64 = 0x676f_762d_6a6f_6273;

/// One round of every job, if this replica holds the lock. The lock is a transaction's, so it is
/// released however the round ends.
pub async fn run_once(
    pool: &PgPool,
    review: &Review,
    public: &PublicDatasets,
) -> Result<(), sqlx::Error> {
    let mut lock = pool.begin().await?;
    if !try_transaction_lock(&mut lock, LOCK_KEY).await? {
        return Ok(());
    }
    match review.privatize_retired().await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "retired datasets made private"),
        Err(error) => tracing::warn!(%error, "making retired datasets private failed"),
    }
    match review.announce_stale().await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "stale datasets announced"),
        Err(error) => tracing::warn!(%error, "announcing stale datasets failed"),
    }
    match crate::identity::sessions::prune(pool).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "old web sessions deleted"),
        Err(error) => tracing::warn!(%error, "deleting old web sessions failed"),
    }
    match public.refresh().await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "public governance datasets updated"),
        Err(error) => tracing::warn!(%error, "updating the public governance datasets failed"),
    }
    lock.commit().await
}
