//! Fair sharing of the row-query connections, so a few callers with expensive queries cannot
//! starve everyone else.
//!
//! Each query takes a slot before it takes a connection. A key or app token holder runs at most
//! `max_concurrent_queries_per_principal` queries at once (more are refused at once with a 429:
//! they are that caller's own). Anonymous callers together take at most
//! `max_concurrent_anonymous_queries` connections, below the pool's size, so keyed callers always
//! find one; past it they wait a moment, then get a 503. (The edge, which sees addresses, caps each
//! anonymous address and app token on top.) Statement timeouts follow the caller too: shortest
//! for anonymous callers, longer with an app token, longest with a key.

use std::sync::Arc;
use std::time::Duration;

use opendata_limits::{ANONYMOUS_QUERIES, QUERIES_PER_PRINCIPAL};
use opendata_platform::auth::Principal;
use opendata_platform::in_flight::{InFlight, InFlightGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::CatalogError;

/// Who runs a query, for its share of the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueryCaller {
    /// No credentials.
    Anonymous,
    /// An app token (its principal id).
    Token(String),
    /// An API key (its principal id).
    Key(String),
}

impl QueryCaller {
    /// The caller behind an authenticated principal, or anonymous.
    pub fn of(principal: Option<&Principal>) -> Self {
        match principal {
            None => QueryCaller::Anonymous,
            Some(principal) if principal.app_token => QueryCaller::Token(principal.id.clone()),
            Some(principal) => QueryCaller::Key(principal.id.clone()),
        }
    }
}

/// How the database is shared.
#[derive(Debug, Clone, Copy)]
pub struct ShareSettings {
    /// Statement timeout of anonymous callers.
    pub anonymous_timeout: Duration,
    /// Statement timeout of app token holders.
    pub token_timeout: Duration,
    /// Statement timeout of key holders.
    pub key_timeout: Duration,
    /// Queries anonymous callers may run at once, together.
    pub max_anonymous: u32,
    /// Queries one key or app token may run at once.
    pub max_per_principal: u32,
    /// How long an anonymous query waits for a turn before it is told to retry.
    pub admission_wait: Duration,
}

/// The slots of row queries.
pub struct FairShare {
    settings: ShareSettings,
    anonymous: Arc<Semaphore>,
    running: InFlight<String>,
}

/// A query's turn; dropping it frees the slot.
pub enum Slot {
    /// One of the anonymous callers' connections.
    Anonymous(OwnedSemaphorePermit),
    /// One of a principal's queries.
    Principal(InFlightGuard<String>),
}

impl FairShare {
    /// Slots with these settings.
    pub fn new(settings: ShareSettings) -> Self {
        FairShare {
            settings,
            anonymous: Arc::new(Semaphore::new(settings.max_anonymous.max(1) as usize)),
            running: InFlight::default(),
        }
    }

    /// The statement timeout of `caller`'s queries.
    pub fn timeout(&self, caller: &QueryCaller) -> Duration {
        match caller {
            QueryCaller::Anonymous => self.settings.anonymous_timeout,
            QueryCaller::Token(_) => self.settings.token_timeout,
            QueryCaller::Key(_) => self.settings.key_timeout,
        }
    }

    /// A turn for `caller`'s next query, or why there is none.
    pub async fn admit(&self, caller: &QueryCaller) -> Result<Slot, CatalogError> {
        let principal = match caller {
            QueryCaller::Anonymous => {
                let permit = tokio::time::timeout(
                    self.settings.admission_wait,
                    Arc::clone(&self.anonymous).acquire_owned(),
                )
                .await;
                return match permit {
                    Ok(Ok(permit)) => Ok(Slot::Anonymous(permit)),
                    _ => Err(CatalogError::Busy {
                        limit: ANONYMOUS_QUERIES.name,
                        message: format!(
                            "{} anonymous queries are running, the most allowed at once; retry in a moment, or send an app token",
                            self.settings.max_anonymous
                        ),
                    }),
                };
            }
            QueryCaller::Token(principal) | QueryCaller::Key(principal) => principal,
        };
        let max = self.settings.max_per_principal;
        let guard = self.running.enter(principal, max).ok_or_else(|| {
            CatalogError::TooManyQueries {
                limit: QUERIES_PER_PRINCIPAL.name,
                message: format!(
                    "this key or app token already runs {max} queries, the most allowed at once; wait for one to finish"
                ),
            }
        })?;
        Ok(Slot::Principal(guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share() -> FairShare {
        FairShare::new(ShareSettings {
            anonymous_timeout: Duration::from_secs(1),
            token_timeout: Duration::from_secs(2),
            key_timeout: Duration::from_secs(3),
            max_anonymous: 2,
            max_per_principal: 2,
            admission_wait: Duration::from_millis(20),
        })
    }

    #[tokio::test]
    async fn each_principal_runs_at_most_its_share() {
        let share = share();
        let alice = QueryCaller::Token("alice".into());
        let first = share.admit(&alice).await.unwrap();
        let _second = share.admit(&alice).await.unwrap();
        let refused = share.admit(&alice).await.err().unwrap();
        assert!(
            matches!(refused, CatalogError::TooManyQueries { limit, .. } if limit == QUERIES_PER_PRINCIPAL.name)
        );
        // Others are not affected, and a finished query frees its slot.
        share.admit(&QueryCaller::Key("bob".into())).await.unwrap();
        drop(first);
        share.admit(&alice).await.unwrap();
    }

    #[tokio::test]
    async fn anonymous_callers_share_a_bounded_part() {
        let share = share();
        let _one = share.admit(&QueryCaller::Anonymous).await.unwrap();
        let two = share.admit(&QueryCaller::Anonymous).await.unwrap();
        let refused = share.admit(&QueryCaller::Anonymous).await.err().unwrap();
        assert!(
            matches!(refused, CatalogError::Busy { limit, .. } if limit == ANONYMOUS_QUERIES.name)
        );
        share
            .admit(&QueryCaller::Key("carol".into()))
            .await
            .unwrap();
        drop(two);
        share.admit(&QueryCaller::Anonymous).await.unwrap();
    }

    #[test]
    fn timeouts_follow_the_caller() {
        let share = share();
        assert_eq!(
            share.timeout(&QueryCaller::Anonymous),
            Duration::from_secs(1)
        );
        assert_eq!(
            share.timeout(&QueryCaller::Token("t".into())),
            Duration::from_secs(2)
        );
        assert_eq!(
            share.timeout(&QueryCaller::Key("k".into())),
            Duration::from_secs(3)
        );
    }
}
