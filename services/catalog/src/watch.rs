//! Watching a dataset's versions (`WatchVersions`, behind the edge's change feed): the versions
//! after the one a client last saw, at once, then each new one within two seconds of its
//! activation (read from the versions table, so a version activated by another catalog replica is
//! seen as well). The caller's sight of the dataset is asked again at every look, so a dataset
//! that stops being public ends its watches. Each watch holds one of `version_watches` turns,
//! no database connection between looks, and ends after an hour.

use std::time::Duration;

use opendata_limits::VERSION_WATCHES;
use opendata_platform::auth::Principal;
use opendata_platform::error::ApiError;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::Status;

use crate::catalog::Catalog;
use crate::error::CatalogError;
use crate::store::{self, VersionRecord};

/// How often a watch looks for new versions.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How long a watch lasts.
const LIFETIME: Duration = Duration::from_secs(3600);
/// Versions sent per look at most (a client far behind catches up over several looks).
const PER_LOOK: i64 = 100;

/// The versions of a watch as they come; an error ends it.
pub type Watched = mpsc::Receiver<Result<VersionRecord, Status>>;

impl Catalog {
    /// Watches the versions of dataset `id` after `after`, for a caller who may see it.
    pub async fn watch(
        &self,
        caller: Option<Principal>,
        id: &str,
        after: i64,
    ) -> Result<Watched, CatalogError> {
        self.get(caller.as_ref(), id).await?;
        let turn = self
            .watches
            .clone()
            .try_acquire_owned()
            .map_err(|_| CatalogError::Busy {
                limit: VERSION_WATCHES.name,
                message: "this catalog serves as many change feeds as it may; retry in a minute"
                    .to_owned(),
            })?;
        let (sender, receiver) = mpsc::channel(16);
        let catalog = self.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let _turn = turn;
            let end = Instant::now() + LIFETIME;
            let mut last = after.max(0);
            let mut looks = tokio::time::interval(LOOK_EVERY);
            loop {
                tokio::select! {
                    () = sender.closed() => return,
                    () = tokio::time::sleep_until(end) => return,
                    _ = looks.tick() => {}
                }
                let found = match catalog.get(caller.as_ref(), &id).await {
                    Ok(_) => store::versions_after(&catalog.pool, &id, last, PER_LOOK).await,
                    Err(error) => Err(error),
                };
                match found {
                    Ok(versions) => {
                        for version in versions {
                            last = version.version;
                            if sender.send(Ok(version)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(error) => {
                        let _ = sender.send(Err(ApiError::from(error).into())).await;
                        return;
                    }
                }
            }
        });
        Ok(receiver)
    }
}
