//! Keeps the inventory in step with the catalog: every dataset the catalog creates becomes an
//! inventory record; its title, category, declared frequency and last data update follow the
//! catalog's events (the freshness of a dataset is measured from them); a deleted dataset leaves
//! the inventory.

use opendata_platform::events::{Event, EventHandler, HandlerError};
use opendata_proto::catalog::v1::{DatasetChange, DatasetChanged};
use prost::Message as _;
use sqlx::PgPool;

use crate::convert::facts_of;
use crate::review::store::record_facts;

/// The durable consumer of catalog events.
pub const CATALOG_CONSUMER: &str = "governance_catalog";

/// Applies catalog events to the inventory.
pub struct CatalogFeed {
    pool: PgPool,
}

impl CatalogFeed {
    /// A feed into governance's pool.
    pub fn new(pool: PgPool) -> Self {
        CatalogFeed { pool }
    }
}

impl EventHandler for CatalogFeed {
    async fn handle(&self, event: Event) -> Result<(), HandlerError> {
        let changed = DatasetChanged::decode(event.payload)?;
        let deleted = changed.change() == DatasetChange::Deleted;
        let Some(dataset) = changed.dataset else {
            return Err(HandlerError::Reject("event without a dataset".to_owned()));
        };
        let mut conn = self.pool.acquire().await?;
        record_facts(&mut conn, &facts_of(&dataset, deleted)).await?;
        Ok(())
    }
}
