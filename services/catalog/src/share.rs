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
//!
//! Expensive queries (those the planner estimates at `expensive_query_cost` or more: full scans
//! and aggregates of large tables) are what starve a small machine's processors, so anonymous
//! callers together run only `max_concurrent_expensive_anonymous_queries` of them at once, and
//! without parallel workers; the rest wait their turn (then get a 503) without holding anything
//! cheap queries need.

use std::sync::Arc;
use std::time::Duration;

use opendata_limits::{ANONYMOUS_QUERIES, EXPENSIVE_ANONYMOUS_QUERIES, QUERIES_PER_PRINCIPAL};
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
    /// The planner's cost from which a query counts as expensive.
    pub expensive_cost: f64,
    /// Expensive queries anonymous callers run at once, together.
    pub max_expensive_anonymous: u32,
}

/// The slots of row queries.
pub struct FairShare {
    settings: ShareSettings,
    anonymous: Arc<Semaphore>,
    expensive_anonymous: Arc<Semaphore>,
    running: InFlight<String>,
}

/// A query's turn; dropping it frees its slots.
pub struct Slot {
    _expensive: Option<OwnedSemaphorePermit>,
    _turn: Turn,
}

/// The part of a slot every query takes; held for its drop.
enum Turn {
    /// One of the anonymous callers' connections.
    Anonymous { _permit: OwnedSemaphorePermit },
    /// One of a principal's queries.
    Principal { _guard: InFlightGuard<String> },
}

impl FairShare {
    /// Slots with these settings.
    pub fn new(settings: ShareSettings) -> Self {
        FairShare {
            settings,
            anonymous: Arc::new(Semaphore::new(settings.max_anonymous.max(1) as usize)),
            expensive_anonymous: Arc::new(Semaphore::new(
                settings.max_expensive_anonymous.max(1) as usize
            )),
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

    /// Whether PostgreSQL may give `caller`'s queries parallel workers.
    pub fn parallel(&self, caller: &QueryCaller) -> bool {
        *caller != QueryCaller::Anonymous
    }

    /// Whether a query the planner estimates at `cost` is expensive.
    pub fn is_expensive(&self, cost: f64) -> bool {
        cost >= self.settings.expensive_cost
    }

    /// A turn for `caller`'s next query (an expensive one when `expensive`), or why there is none.
    pub async fn admit(&self, caller: &QueryCaller, expensive: bool) -> Result<Slot, CatalogError> {
        let expensive = match caller {
            QueryCaller::Anonymous if expensive => Some(
                self.wait_for(
                    &self.expensive_anonymous,
                    EXPENSIVE_ANONYMOUS_QUERIES.name,
                    format!(
                        "{} expensive anonymous queries (large scans or aggregates) are running, the most allowed at once; retry in a moment, narrow the query, or send an app token",
                        self.settings.max_expensive_anonymous
                    ),
                )
                .await?,
            ),
            _ => None,
        };
        let turn = self.turn(caller).await?;
        Ok(Slot {
            _expensive: expensive,
            _turn: turn,
        })
    }

    /// A permit of `semaphore`, waiting at most the admission wait; else a 503 naming `limit`.
    async fn wait_for(
        &self,
        semaphore: &Arc<Semaphore>,
        limit: &'static str,
        message: String,
    ) -> Result<OwnedSemaphorePermit, CatalogError> {
        match tokio::time::timeout(
            self.settings.admission_wait,
            Arc::clone(semaphore).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(CatalogError::Busy { limit, message }),
        }
    }

    async fn turn(&self, caller: &QueryCaller) -> Result<Turn, CatalogError> {
        let principal = match caller {
            QueryCaller::Anonymous => {
                let message = format!(
                    "{} anonymous queries are running, the most allowed at once; retry in a moment, or send an app token",
                    self.settings.max_anonymous
                );
                let permit = self
                    .wait_for(&self.anonymous, ANONYMOUS_QUERIES.name, message)
                    .await?;
                return Ok(Turn::Anonymous { _permit: permit });
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
        Ok(Turn::Principal { _guard: guard })
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
            expensive_cost: 1_000.0,
            max_expensive_anonymous: 1,
        })
    }

    #[tokio::test]
    async fn each_principal_runs_at_most_its_share() {
        let share = share();
        let alice = QueryCaller::Token("alice".into());
        let first = share.admit(&alice, false).await.unwrap();
        let _second = share.admit(&alice, false).await.unwrap();
        let refused = share.admit(&alice, false).await.err().unwrap();
        assert!(
            matches!(refused, CatalogError::TooManyQueries { limit, .. } if limit == QUERIES_PER_PRINCIPAL.name)
        );
        // Others are not affected, and a finished query frees its slot.
        share
            .admit(&QueryCaller::Key("bob".into()), false)
            .await
            .unwrap();
        drop(first);
        share.admit(&alice, false).await.unwrap();
    }

    #[tokio::test]
    async fn anonymous_callers_share_a_bounded_part() {
        let share = share();
        let _one = share.admit(&QueryCaller::Anonymous, false).await.unwrap();
        let two = share.admit(&QueryCaller::Anonymous, false).await.unwrap();
        let refused = share
            .admit(&QueryCaller::Anonymous, false)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(refused, CatalogError::Busy { limit, .. } if limit == ANONYMOUS_QUERIES.name)
        );
        share
            .admit(&QueryCaller::Key("carol".into()), false)
            .await
            .unwrap();
        drop(two);
        share.admit(&QueryCaller::Anonymous, false).await.unwrap();
    }

    #[tokio::test]
    async fn anonymous_callers_run_few_expensive_queries_and_cheap_ones_pass_them() {
        let share = share();
        assert!(share.is_expensive(1_000.0) && !share.is_expensive(999.0));
        let scan = share.admit(&QueryCaller::Anonymous, true).await.unwrap();
        let refused = share
            .admit(&QueryCaller::Anonymous, true)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(refused, CatalogError::Busy { limit, .. } if limit == EXPENSIVE_ANONYMOUS_QUERIES.name)
        );
        // The waiting expensive query held nothing: a cheap one still finds its turn.
        share.admit(&QueryCaller::Anonymous, false).await.unwrap();
        share
            .admit(&QueryCaller::Token("t".into()), true)
            .await
            .unwrap();
        drop(scan);
        share.admit(&QueryCaller::Anonymous, true).await.unwrap();
        assert!(!share.parallel(&QueryCaller::Anonymous));
        assert!(share.parallel(&QueryCaller::Key("k".into())));
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
