//! Applies ingestion's `version_purged` events to the version history: the version stays listed,
//! marked purged with who did it and why (its rows are already gone).

use opendata_platform::events::{Event, EventHandler, HandlerError, claim};
use opendata_platform::timestamp::from_proto;
use opendata_proto::ingestion::v1::VersionPurged;
use prost::Message as _;
use sqlx::PgPool;

use crate::events::handler_error;
use crate::store;

/// The durable consumer of `version_purged`.
pub const PURGE_CONSUMER: &str = "catalog_purges";

/// Records purges in the version history.
pub struct PurgeRecorder {
    pool: PgPool,
}

impl PurgeRecorder {
    /// A recorder over the catalog's pool.
    pub fn new(pool: PgPool) -> Self {
        PurgeRecorder { pool }
    }
}

impl EventHandler for PurgeRecorder {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        if event.name != "version_purged" {
            return Ok(());
        }
        let purged = VersionPurged::decode(event.payload)?;
        let purged_at = purged
            .purged_at
            .as_ref()
            .and_then(from_proto)
            .ok_or_else(|| HandlerError::Reject("purge without a time".to_owned()))?;
        let mut tx = self.pool.begin().await?;
        if !claim(&mut tx, PURGE_CONSUMER, event.id).await? {
            return Ok(());
        }
        let recorded = store::record_purge(
            &mut *tx,
            &purged.dataset_id,
            purged.version,
            purged_at,
            &purged.purged_by_name,
            &purged.reason,
        )
        .await?;
        if !recorded {
            // The version's own event has not been applied yet (it is behind this one on
            // another consumer): try again; a version the catalog skipped has nothing to mark.
            let current = store::fetch(&mut *tx, &purged.dataset_id, true)
                .await
                .map_err(handler_error)?
                .map(|dataset| dataset.current_version);
            if current.is_some_and(|current| current < purged.version) {
                return Err(HandlerError::Retry(format!(
                    "version {} of {} is not activated yet",
                    purged.version, purged.dataset_id
                )));
            }
        }
        tx.commit().await?;
        tracing::info!(dataset_id = %purged.dataset_id, version = purged.version, "purge recorded");
        Ok(())
    }
}
