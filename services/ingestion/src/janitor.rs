//! Clean-up: uploads that stopped receiving or were never committed are abandoned, the working
//! tables of failed and abandoned uploads are dropped, and the tables of retired versions are
//! dropped once no query can still be reading them.

use opendata_datastore::table::qualified;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::IngestionSettings;
use crate::model::UploadState;
use crate::store;

/// One clean-up round.
pub async fn clean_up(pool: &PgPool, settings: &IngestionSettings) -> Result<(), sqlx::Error> {
    let idle: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, state FROM uploads WHERE \
         (state IN ('created', 'receiving') AND updated_at < now() - make_interval(secs => $1)) OR \
         (state IN ('awaiting_schema', 'loaded') AND updated_at < now() - make_interval(secs => $2))",
    )
    .bind(settings.receive_idle_timeout_secs as f64)
    .bind(settings.uncommitted_expiry_secs as f64)
    .fetch_all(pool)
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

    let closed: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, working_table FROM uploads WHERE state IN ('failed', 'abandoned') AND NOT table_dropped",
    )
    .fetch_all(pool)
    .await?;
    for (id, table) in closed {
        drop_working_table(pool, id, &table).await?;
    }

    let retired: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT dataset_id, version, table_name FROM versions \
         WHERE dropped_at IS NULL AND retired_at < now() - make_interval(secs => $1)",
    )
    .bind(settings.retired_table_grace_secs as f64)
    .fetch_all(pool)
    .await?;
    for (dataset_id, version, table) in retired {
        let mut tx = pool.begin().await?;
        // Never wait behind a long export: try again next round instead.
        sqlx::query("SET LOCAL lock_timeout = '2s'")
            .execute(&mut *tx)
            .await?;
        match sqlx::query(&format!("DROP TABLE IF EXISTS {}", qualified(&table)))
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {
                sqlx::query(
                    "UPDATE versions SET dropped_at = now() WHERE dataset_id = $1 AND version = $2",
                )
                .bind(&dataset_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                tracing::info!(%dataset_id, version, "retired version dropped");
            }
            Err(error) => {
                tracing::info!(%dataset_id, version, %error, "retired version still in use")
            }
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
    sqlx::query("SET LOCAL lock_timeout = '2s'")
        .execute(&mut *tx)
        .await?;
    if let Err(error) = sqlx::query(&format!("DROP TABLE IF EXISTS {}", qualified(table)))
        .execute(&mut *tx)
        .await
    {
        tracing::info!(%upload_id, %error, "working table still in use, dropped later");
        return Ok(());
    }
    store::delete_chunks(&mut *tx, upload_id).await?;
    sqlx::query("UPDATE uploads SET table_dropped = true WHERE id = $1")
        .bind(upload_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
