//! Fair sharing of the row-query connections, so a few callers with expensive queries cannot
//! starve everyone else.
//!
//! Each query takes its slots before it takes a connection:
//! - a key or app token holder runs at most `max_concurrent_queries_per_principal` queries at once
//!   (more are refused at once with a 429: they are that caller's own);
//! - the public (anonymous callers and app token holders) together take at most
//!   `max_concurrent_public_queries` of the pool's connections, so key holders (agencies, staff)
//!   always find one, and anonymous callers alone at most `max_concurrent_anonymous_queries` of
//!   those, so app token holders always find one too; past these a query waits a moment, then
//!   gets a 503. (The edge, which sees addresses, caps each address and token on top.)
//! - Expensive queries (the planner's estimate at `expensive_query_cost` or more: full scans and
//!   aggregates of large tables) are what starve a small machine's processors, so the public runs
//!   only `max_concurrent_expensive_public_queries` of them at once, and without parallel
//!   workers; the rest wait their turn without holding anything cheap queries need.
//!
//! All the waits of one query share one deadline. Statement timeouts follow the caller too:
//! shortest for anonymous callers, longer with an app token, longest with a key.

use std::sync::Arc;
use std::time::Duration;

use opendata_limits::{
    ANONYMOUS_QUERIES, EXPENSIVE_PUBLIC_QUERIES, PUBLIC_QUERIES, QUERIES_PER_PRINCIPAL,
    QUERY_SECONDS_ANONYMOUS, QUERY_SECONDS_KEY, QUERY_SECONDS_TOKEN,
};
use opendata_platform::auth::Principal;
use opendata_platform::in_flight::{InFlight, InFlightGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

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

    /// Whether the caller is the public (anonymous, or an application's token) rather than an
    /// agency's or the state's key.
    pub fn is_public(&self) -> bool {
        !matches!(self, QueryCaller::Key(_))
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
    /// Queries the public (anonymous callers and app token holders) may run at once, together.
    pub max_public: u32,
    /// Queries anonymous callers may run at once, together (part of `max_public`).
    pub max_anonymous: u32,
    /// Queries one key or app token may run at once.
    pub max_per_principal: u32,
    /// How long a query waits for its turn, all waits together, before it is told to retry.
    pub admission_wait: Duration,
    /// The planner's cost from which a query counts as expensive.
    pub expensive_cost: f64,
    /// Expensive queries the public may run at once, together.
    pub max_expensive_public: u32,
}

/// The slots of row queries.
pub struct FairShare {
    settings: ShareSettings,
    public: Arc<Semaphore>,
    anonymous: Arc<Semaphore>,
    expensive_public: Arc<Semaphore>,
    running: InFlight<String>,
}

/// A query's turn; dropping it frees its slots. The fields are held for their drop.
pub struct Slot {
    _expensive: Option<OwnedSemaphorePermit>,
    _anonymous: Option<OwnedSemaphorePermit>,
    _public: Option<OwnedSemaphorePermit>,
    _principal: Option<InFlightGuard<String>>,
}

impl FairShare {
    /// Slots with these settings.
    pub fn new(settings: ShareSettings) -> Self {
        let semaphore = |permits: u32| Arc::new(Semaphore::new(permits.max(1) as usize));
        FairShare {
            settings,
            public: semaphore(settings.max_public),
            anonymous: semaphore(settings.max_anonymous),
            expensive_public: semaphore(settings.max_expensive_public),
            running: InFlight::default(),
        }
    }

    /// The statement timeout of `caller`'s queries, and the limit that names it.
    pub fn timeout(&self, caller: &QueryCaller) -> (Duration, &'static str) {
        match caller {
            QueryCaller::Anonymous => (
                self.settings.anonymous_timeout,
                QUERY_SECONDS_ANONYMOUS.name,
            ),
            QueryCaller::Token(_) => (self.settings.token_timeout, QUERY_SECONDS_TOKEN.name),
            QueryCaller::Key(_) => (self.settings.key_timeout, QUERY_SECONDS_KEY.name),
        }
    }

    /// Whether PostgreSQL may give `caller`'s queries parallel workers: key holders only.
    pub fn parallel(&self, caller: &QueryCaller) -> bool {
        !caller.is_public()
    }

    /// Whether a query the planner estimates at `cost` is expensive.
    pub fn is_expensive(&self, cost: f64) -> bool {
        cost >= self.settings.expensive_cost
    }

    /// When a query arriving now must have its turn (and its connection): all of its waits,
    /// estimating its cost included, share this deadline.
    pub fn admission_deadline(&self) -> Instant {
        Instant::now() + self.settings.admission_wait
    }

    /// A turn for `caller`'s next query (an expensive one when `expensive`) by `deadline`, or why
    /// there is none.
    pub async fn admit(
        &self,
        caller: &QueryCaller,
        expensive: bool,
        deadline: Instant,
    ) -> Result<Slot, CatalogError> {
        // The caller's own share first: refused at once, without waiting on anyone else.
        let principal = match caller {
            QueryCaller::Anonymous => None,
            QueryCaller::Token(principal) | QueryCaller::Key(principal) => {
                let max = self.settings.max_per_principal;
                Some(self.running.enter(principal, max).ok_or_else(|| {
                    CatalogError::TooManyQueries {
                        limit: QUERIES_PER_PRINCIPAL.name,
                        message: format!(
                            "this key or app token already runs {max} queries, the most allowed at once; wait for one to finish"
                        ),
                    }
                })?)
            }
        };
        // Then the scarcest turn, so a query waiting for it holds nothing others need.
        let expensive = if expensive && caller.is_public() {
            let message = format!(
                "{} expensive public queries (large scans or aggregates) are running, the most allowed at once; retry in a moment or narrow the query",
                self.settings.max_expensive_public
            );
            Some(
                wait_for(
                    &self.expensive_public,
                    deadline,
                    EXPENSIVE_PUBLIC_QUERIES.name,
                    message,
                )
                .await?,
            )
        } else {
            None
        };
        let anonymous = if *caller == QueryCaller::Anonymous {
            let message = format!(
                "{} anonymous queries are running, the most allowed at once; retry in a moment, or send an app token",
                self.settings.max_anonymous
            );
            Some(wait_for(&self.anonymous, deadline, ANONYMOUS_QUERIES.name, message).await?)
        } else {
            None
        };
        let public = if caller.is_public() {
            let message = format!(
                "{} public queries are running, the most allowed at once; retry in a moment",
                self.settings.max_public
            );
            Some(wait_for(&self.public, deadline, PUBLIC_QUERIES.name, message).await?)
        } else {
            None
        };
        Ok(Slot {
            _expensive: expensive,
            _anonymous: anonymous,
            _public: public,
            _principal: principal,
        })
    }
}

/// A permit of `semaphore` by `deadline`; else a 503 naming `limit`.
async fn wait_for(
    semaphore: &Arc<Semaphore>,
    deadline: Instant,
    limit: &'static str,
    message: String,
) -> Result<OwnedSemaphorePermit, CatalogError> {
    match tokio::time::timeout_at(deadline, Arc::clone(semaphore).acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(CatalogError::Busy { limit, message }),
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
            max_public: 3,
            max_anonymous: 2,
            max_per_principal: 2,
            admission_wait: Duration::from_millis(20),
            expensive_cost: 1_000.0,
            max_expensive_public: 1,
        })
    }

    impl FairShare {
        async fn admit_now(
            &self,
            caller: &QueryCaller,
            expensive: bool,
        ) -> Result<Slot, CatalogError> {
            self.admit(caller, expensive, self.admission_deadline())
                .await
        }
    }

    fn refused_limit(error: CatalogError) -> &'static str {
        match error {
            CatalogError::Busy { limit, .. } | CatalogError::TooManyQueries { limit, .. } => limit,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn each_principal_runs_at_most_its_share() {
        let share = share();
        let alice = QueryCaller::Key("alice".into());
        let first = share.admit_now(&alice, false).await.unwrap();
        let _second = share.admit_now(&alice, false).await.unwrap();
        let refused = share.admit_now(&alice, false).await.err().unwrap();
        assert_eq!(refused_limit(refused), QUERIES_PER_PRINCIPAL.name);
        share
            .admit_now(&QueryCaller::Key("bob".into()), false)
            .await
            .unwrap();
        drop(first);
        share.admit_now(&alice, false).await.unwrap();
    }

    #[tokio::test]
    async fn anonymous_callers_leave_room_for_tokens_and_the_public_for_keys() {
        let share = share();
        let _one = share
            .admit_now(&QueryCaller::Anonymous, false)
            .await
            .unwrap();
        let two = share
            .admit_now(&QueryCaller::Anonymous, false)
            .await
            .unwrap();
        let refused = share
            .admit_now(&QueryCaller::Anonymous, false)
            .await
            .err()
            .unwrap();
        assert_eq!(refused_limit(refused), ANONYMOUS_QUERIES.name);
        let _token = share
            .admit_now(&QueryCaller::Token("t".into()), false)
            .await
            .unwrap();
        let refused = share
            .admit_now(&QueryCaller::Token("u".into()), false)
            .await
            .err()
            .unwrap();
        assert_eq!(refused_limit(refused), PUBLIC_QUERIES.name);
        share
            .admit_now(&QueryCaller::Key("carol".into()), false)
            .await
            .unwrap();
        drop(two);
        share
            .admit_now(&QueryCaller::Anonymous, false)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_public_runs_few_expensive_queries_and_cheap_ones_pass_them() {
        let share = share();
        assert!(share.is_expensive(1_000.0) && !share.is_expensive(999.0));
        let scan = share
            .admit_now(&QueryCaller::Token("t".into()), true)
            .await
            .unwrap();
        let refused = share
            .admit_now(&QueryCaller::Anonymous, true)
            .await
            .err()
            .unwrap();
        assert_eq!(refused_limit(refused), EXPENSIVE_PUBLIC_QUERIES.name);
        // The refused expensive query held nothing: a cheap one still finds its turn.
        share
            .admit_now(&QueryCaller::Anonymous, false)
            .await
            .unwrap();
        share
            .admit_now(&QueryCaller::Key("k".into()), true)
            .await
            .unwrap();
        drop(scan);
        share
            .admit_now(&QueryCaller::Anonymous, true)
            .await
            .unwrap();
        assert!(!share.parallel(&QueryCaller::Token("t".into())));
        assert!(share.parallel(&QueryCaller::Key("k".into())));
    }

    #[test]
    fn timeouts_follow_the_caller() {
        let share = share();
        assert_eq!(
            share.timeout(&QueryCaller::Anonymous).0,
            Duration::from_secs(1)
        );
        assert_eq!(
            share.timeout(&QueryCaller::Token("t".into())).0,
            Duration::from_secs(2)
        );
        assert_eq!(
            share.timeout(&QueryCaller::Key("k".into())).1,
            QUERY_SECONDS_KEY.name
        );
    }
}
