//! Clean-up: uploads that stopped receiving or were never committed are abandoned, the working
//! tables of failed and abandoned uploads are dropped, and replaced versions go once past their
//! dataset's retention (and no query can still be reading them): the view, the generation's rows
//! no kept version holds, and the generation itself when no version of it is kept (or, for
//! versions from before generations, their table).

use sqlx::PgPool;
use uuid::Uuid;

use crate::config::IngestionSettings;
use crate::model::UploadState;
use crate::retention::KeepPolicy;
use crate::store;

/// One clean-up round.
pub async fn clean_up(pool: &PgPool, settings: &IngestionSettings) -> Result<(), sqlx::Error> {
    let idle = store::idle_uploads(
        pool,
        settings.receive_idle_timeout_secs as f64,
        settings.uncommitted_expiry_secs as f64,
    )
    .await?;
    for (id, state) in idle {
        let reason =
            if UploadState::parse(&state) == UploadState::Loaded || state == "awaiting_schema" {
                "not committed in time"
            } else {
                "no data received in time (interrupted upload)"
            };
        store::close_upload(pool, id, UploadState::Abandoned, reason).await?;
        tracing::info!(upload_id = %id, reason, "upload abandoned");
    }

    for (id, table) in store::closed_uploads_with_tables(pool).await? {
        drop_working_table(pool, id, &table).await?;
    }

    let retention = settings.default_retention();
    let grace = settings.retired_table_grace_secs as f64;
    for version in store::past_retention(pool, grace, &retention, None).await? {
        // One version's failure leaves the others to go; it is tried again next round.
        if let Err(error) = drop_past_retention(pool, &version, grace, &retention).await {
            tracing::warn!(
                dataset_id = %version.dataset_id,
                version = version.version,
                %error,
                "version past retention not dropped"
            );
        }
    }
    Ok(())
}

/// Drops a version past retention and marks it dropped, in one transaction holding the dataset's
/// version lock, where the rule is asked again (a purge, a commit, a longer retention or another
/// replica's janitor may have come first). Never waits behind a long export: it tries again next
/// round instead.
async fn drop_past_retention(
    pool: &PgPool,
    version: &store::StoredVersion,
    grace: f64,
    retention: &KeepPolicy,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    store::lock_versions(&mut tx, &version.dataset_id).await?;
    let still = store::past_retention(
        &mut *tx,
        grace,
        retention,
        Some((&version.dataset_id, version.version)),
    )
    .await?;
    if still.is_empty() {
        return Ok(());
    }
    if store::drop_version(&mut tx, version).await? {
        store::mark_version_dropped(&mut *tx, &version.dataset_id, version.version).await?;
        tx.commit().await?;
        tracing::info!(
            dataset_id = %version.dataset_id,
            version = version.version,
            "version past retention dropped"
        );
    }
    Ok(())
}

/// Drops a closed upload's working table and staged chunks. When a load still holds the table
/// (it notices the closure within seconds and stops), gives up for now; the next round retries.
pub async fn drop_working_table(
    pool: &PgPool,
    upload_id: Uuid,
    table: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if !store::drop_data_table(&mut tx, table).await? {
        return Ok(());
    }
    store::delete_chunks(&mut *tx, upload_id).await?;
    store::mark_table_dropped(&mut *tx, upload_id).await?;
    tx.commit().await
}
