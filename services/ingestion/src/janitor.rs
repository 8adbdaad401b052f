//! Clean-up: uploads that stopped receiving or were never committed are abandoned, the working
//! tables of failed and abandoned uploads are dropped, and replaced versions go once past their
//! dataset's retention (and no query can still be reading them): the view, the generation's rows
//! no kept version holds, and the generation itself when no version of it is kept (or, for
//! versions from before generations, their table).

use opendata_limits::{RETENTION_DAYS, RETENTION_VERSIONS};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::IngestionSettings;
use crate::model::UploadState;
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

    let retired = store::retired_versions(
        pool,
        settings.retired_table_grace_secs as f64,
        &default_policy(settings),
    )
    .await?;
    for version in retired {
        // One version's failure leaves the others to go; it is tried again next round.
        if let Err(error) = drop_retired(pool, &version).await {
            tracing::warn!(
                dataset_id = %version.dataset_id,
                version = version.version,
                %error,
                "retired version not dropped"
            );
        }
    }
    Ok(())
}

/// Drops a retired version and marks it dropped, in one transaction holding the dataset's
/// version lock (so two replicas' janitors never both think the other's version is kept).
/// Never waits behind a long export: it tries again next round instead.
async fn drop_retired(pool: &PgPool, version: &store::RetiredVersion) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    store::lock_versions(&mut tx, &version.dataset_id).await?;
    if drop_version(&mut tx, version).await? {
        store::mark_version_dropped(&mut *tx, &version.dataset_id, version.version).await?;
        tx.commit().await?;
        tracing::info!(
            dataset_id = %version.dataset_id,
            version = version.version,
            "retired version dropped"
        );
    }
    Ok(())
}

/// Drops a version in the caller's transaction: its view, and then its generation's rows no kept
/// version holds (or the generation, when it has no kept version left); before generations, its
/// table. Whether it went (false when a reader still holds it).
pub(crate) async fn drop_version(
    conn: &mut sqlx::PgConnection,
    version: &store::RetiredVersion,
) -> Result<bool, sqlx::Error> {
    let Some(generation) = &version.generation else {
        return store::drop_data_table(conn, &version.table_name).await;
    };
    if !store::drop_data_view(conn, &version.table_name).await? {
        return Ok(false);
    }
    let kept = store::kept_in_generation(&mut *conn, generation, version.version).await?;
    if kept.is_empty() {
        return store::drop_data_table(conn, generation).await;
    }
    store::prune_generation(conn, generation, &kept).await?;
    Ok(true)
}

/// The service's retention, for datasets without their own, within its documented bounds.
pub(crate) fn default_policy(settings: &IngestionSettings) -> store::KeepPolicy {
    store::KeepPolicy {
        keep_days: settings.retention_days.min(RETENTION_DAYS.value as u32) as i32,
        keep_versions: settings
            .retention_versions
            .clamp(1, RETENTION_VERSIONS.value as u32) as i32,
    }
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
