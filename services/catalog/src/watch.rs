//! Watching a dataset's versions (`WatchVersions`, behind the edge's change feed): the versions
//! after the one a client last saw, at once, then each new one within two seconds of its
//! activation (read from the versions table, so a version activated by another catalog replica is
//! seen as well; one light indexed query a look). The caller's sight of the dataset is asked
//! again every 16 s, so a dataset that stops being visible ends its watches with NOT_FOUND; a
//! passing database failure is tried again at the next look. Each watch holds one of
//! `version_watches` turns and no database connection between looks, and ends after an hour (a
//! key holder's after five minutes, so a revoked key stops within that), or when the service
//! shuts down: clients resume from their last version.

use std::time::Duration;

use opendata_limits::VERSION_WATCHES;
use opendata_platform::auth::Principal;
use opendata_platform::error::ApiError;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tonic::Status;
use tracing::Instrument as _;

use crate::catalog::Catalog;
use crate::error::CatalogError;
use crate::store::{self, FeedVersion};

/// How often a watch looks for new versions.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Looks between two checks that the caller still sees the dataset.
const LOOKS_PER_CHECK: u32 = 8;
/// How long a public watch lasts.
const LIFETIME: Duration = Duration::from_secs(3600);
/// How long a key holder's watch lasts.
const KEYED_LIFETIME: Duration = Duration::from_secs(300);
/// Versions sent per look at most (a client far behind catches up over several looks).
const PER_LOOK: i64 = 100;
/// Failed looks in a row after which a watch gives up.
const FAILURES: u32 = 5;

/// The versions of a watch as they come; an error ends it.
pub type Watched = mpsc::Receiver<Result<FeedVersion, Status>>;

impl Catalog {
    /// Watches the versions of dataset `id` after `after`, for a caller who may see it; `after`
    /// beyond its current version is refused, naming `after`.
    pub async fn watch(
        &self,
        caller: Option<Principal>,
        id: &str,
        after: i64,
    ) -> Result<Watched, CatalogError> {
        let dataset = self.get(caller.as_ref(), id).await?;
        if after > dataset.current_version {
            return Err(CatalogError::NoSuchVersion {
                parameter: "after",
                message: format!(
                    "dataset {id} has no version {after}; its versions run to {}",
                    dataset.current_version
                ),
            });
        }
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
        let lifetime = if caller.is_some() {
            KEYED_LIFETIME
        } else {
            LIFETIME
        };
        let watch = async move {
            let _turn = turn;
            let end = Instant::now() + lifetime;
            let shutdown = catalog.shutdown.triggered();
            tokio::pin!(shutdown);
            let mut last = after.max(0);
            let mut looks = tokio::time::interval(LOOK_EVERY);
            looks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let (mut count, mut failures) = (0u32, 0u32);
            loop {
                tokio::select! {
                    () = sender.closed() => return,
                    () = tokio::time::sleep_until(end) => return,
                    () = &mut shutdown => return,
                    _ = looks.tick() => {}
                }
                count += 1;
                let seen = if count.is_multiple_of(LOOKS_PER_CHECK) {
                    catalog.get(caller.as_ref(), &id).await.map(|_| ())
                } else {
                    Ok(())
                };
                let found = match seen {
                    Ok(()) => store::versions_after(&catalog.pool, &id, last, PER_LOOK).await,
                    Err(error) => Err(error),
                };
                match found {
                    Ok(versions) => {
                        failures = 0;
                        for version in versions {
                            last = version.version;
                            if sender.send(Ok(version)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(error @ CatalogError::NotFound(_)) => {
                        let _ = sender.send(Err(ApiError::from(error).into())).await;
                        return;
                    }
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(dataset_id = %id, %error, failures, "a change feed's look failed");
                        if failures >= FAILURES {
                            let _ = sender.send(Err(ApiError::from(error).into())).await;
                            return;
                        }
                    }
                }
            }
        };
        tokio::spawn(watch.in_current_span());
        Ok(receiver)
    }
}
