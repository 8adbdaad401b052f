//! Clean-up: uploads that stopped receiving or were never committed are abandoned, the working
//! tables of failed and abandoned uploads are dropped, and the tables of retired versions are
//! dropped once no query can still be reading them.

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

    let retired = store::retired_versions(pool, settings.retired_table_grace_secs as f64).await?;
    for (dataset_id, version, table) in retired {
        let mut tx = pool.begin().await?;
        // Never wait behind a long export: try again next round instead.
        if store::drop_data_table(&mut tx, &table).await? {
            store::mark_version_dropped(&mut *tx, &dataset_id, version).await?;
            tx.commit().await?;
            tracing::info!(%dataset_id, version, "retired version dropped");
        }
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
