//! The outbox relay: publishes committed events to JetStream in order, marks them published, and
//! retries while NATS is unreachable. Nothing committed is ever lost; an event published twice is
//! dropped by JetStream (same `Nats-Msg-Id`) and ignored by idempotent consumers. An event the bus
//! refuses for good is set aside ([`super::dead_letters`]) instead of blocking those behind it.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::bus::{BusError, EventBus};
use super::dead_letters::{self, OUTBOX_COMPONENT, Refused};
use crate::db::is_broken_deployment;
use crate::health::Health;
use crate::metrics::{Probe, ServiceLabels, TaskLabels, metrics};
use crate::shutdown::Shutdown;
use crate::tasks::TaskResult;

/// Events published per database round trip.
const BATCH: i64 = 200;
/// Poll interval when no notification arrives (notifications can be missed across reconnects).
const POLL: Duration = Duration::from_millis(500);
/// Relay rounds between two counts of the events set aside (a minute at the poll interval).
const DEAD_LETTER_CHECK_ROUNDS: u64 = 120;
/// Published events are deleted after this long.
const KEEP_PUBLISHED: &str = "1 day";

/// Publishes the outbox of one service schema.
pub struct Relay {
    pool: PgPool,
    bus: EventBus,
    domain: &'static str,
    health: Health,
}

#[derive(sqlx::FromRow)]
struct PendingEvent {
    id: Uuid,
    subject: String,
    payload: Vec<u8>,
    headers: sqlx::types::Json<HashMap<String, String>>,
}

/// Why a relay round failed.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl Relay {
    /// A relay for the outbox in `pool`'s schema, publishing into `domain`'s stream and reporting
    /// events it sets aside to `health`.
    pub fn new(pool: PgPool, bus: EventBus, domain: &'static str, health: Health) -> Self {
        Relay {
            pool,
            bus,
            domain,
            health,
        }
    }

    /// Publishes pending events until none are left; returns how many left the outbox (published,
    /// or set aside as dead letters when NATS refuses them for good).
    pub async fn publish_pending(&self) -> Result<usize, sqlx::Error> {
        let mut total = 0;
        loop {
            match self.publish_batch().await {
                Ok(0) => return Ok(total),
                Ok(published) => total += published,
                Err(RelayError::Database(error)) => return Err(error),
                Err(RelayError::Bus(error)) => {
                    tracing::warn!(domain = self.domain, %error, "event bus unavailable, events wait in the outbox");
                    return Ok(total);
                }
            }
        }
    }

    /// Publishes one batch in order; sets aside the events the bus refuses for good, and stops at
    /// the first event it cannot publish for now (marking those before it published). Returns how
    /// many events left the outbox.
    async fn publish_batch(&self) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        let pending: Vec<PendingEvent> = sqlx::query_as(
            "SELECT id, subject, payload, headers FROM outbox WHERE published_at IS NULL \
             ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if pending.is_empty() {
            return Ok(0);
        }
        self.bus.ensure_stream(self.domain).await?;
        let mut published = Vec::with_capacity(pending.len());
        let mut refused = Vec::new();
        let mut unavailable = None;
        for event in pending {
            let mut headers = HeaderMap::new();
            for (name, value) in event.headers.0 {
                if !value.contains(['\r', '\n']) {
                    headers.insert(name.as_str(), value.as_str());
                }
            }
            let outcome = self
                .bus
                .publish(
                    &event.subject,
                    &event.id.to_string(),
                    headers,
                    Bytes::from(event.payload),
                )
                .await;
            match outcome {
                Ok(()) => published.push(event.id),
                Err(error) if error.is_permanent() => refused.push(Refused {
                    id: event.id,
                    subject: event.subject,
                    reason: error.to_string(),
                }),
                Err(error) => {
                    unavailable = Some(error);
                    break;
                }
            }
        }
        sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
            .bind(&published)
            .execute(&mut *tx)
            .await?;
        dead_letters::set_aside(&mut tx, &refused).await?;
        tx.commit().await?;
        tracing::debug!(
            domain = self.domain,
            count = published.len(),
            "events published"
        );
        for event in &refused {
            tracing::error!(
                domain = self.domain,
                event_id = %event.id,
                subject = %event.subject,
                reason = %event.reason,
                "event refused by the bus for good, set aside in outbox_dead_letters"
            );
        }
        if !refused.is_empty() {
            self.report_dead_letters().await?;
        }
        match unavailable {
            Some(error) => Err(error.into()),
            None => Ok(published.len() + refused.len()),
        }
    }

    /// Reports the outbox as degraded while events are set aside.
    async fn report_dead_letters(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let count = dead_letters::count(&mut conn).await?;
        self.health
            .report_component(OUTBOX_COMPONENT, count == 0)
            .await;
        Ok(())
    }

    async fn delete_old(&self) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "DELETE FROM outbox WHERE published_at < now() - interval '{KEEP_PUBLISHED}'"
        ))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs until shutdown: wakes on `NOTIFY outbox_<schema>` or every poll interval. Stops with
    /// an error when the database says the deployment is broken (the outbox is gone, a privilege
    /// is missing), which no retry fixes; its supervisor reports it.
    pub async fn run(self, shutdown: Shutdown) -> TaskResult {
        let _backlog = backlog_probe(self.pool.clone(), self.domain);
        let mut listener = self.listen().await;
        let mut rounds: u64 = 0;
        let counted = metrics()
            .task_rounds
            .get_or_create(&TaskLabels {
                service: self.domain,
                task: "outbox relay",
            })
            .clone();
        while !shutdown.is_triggered() {
            if let Err(error) = self.publish_pending().await {
                if is_broken_deployment(&error) {
                    return Err(format!(
                        "the {} outbox cannot be read: {error}",
                        self.domain
                    ));
                }
                tracing::warn!(domain = self.domain, %error, "outbox relay round failed");
            }
            rounds += 1;
            counted.inc();
            if rounds % 10_000 == 1
                && let Err(error) = self.delete_old().await
            {
                tracing::warn!(domain = self.domain, %error, "outbox cleanup failed");
            }
            // Noticed at start, and once a minute whether an operator has dealt with them.
            if rounds % DEAD_LETTER_CHECK_ROUNDS == 1
                && let Err(error) = self.report_dead_letters().await
            {
                tracing::warn!(domain = self.domain, %error, "counting set-aside events failed");
            }
            let notified = async {
                match listener.as_mut() {
                    Some(listener) => {
                        let _ = listener.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.triggered() => {}
            }
        }
        // One last round so events committed during the drain go out now rather than at next start.
        if let Err(error) = self.publish_pending().await {
            tracing::warn!(domain = self.domain, %error, "final outbox round failed");
        }
        Ok(())
    }

    async fn listen(&self) -> Option<PgListener> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await
            .ok()?;
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(&format!("outbox_{schema}")).await.ok()?;
        Some(listener)
    }
}

/// Reports the outbox's backlog, the age of its oldest unpublished event and the events set aside
/// at every scrape.
fn backlog_probe(pool: PgPool, service: &'static str) -> Probe {
    metrics().on_scrape("outbox", move || {
        let pool = pool.clone();
        async move {
            let backlog: Result<(i64, f64, i64), sqlx::Error> = sqlx::query_as(
                // Counted up to a bound: a huge backlog costs a scrape little all the same.
                "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox \
                                WHERE published_at IS NULL LIMIT 100000) pending), \
                        COALESCE((SELECT EXTRACT(EPOCH FROM now() - min(created_at)) \
                                  FROM outbox WHERE published_at IS NULL), 0)::float8, \
                        (SELECT count(*) FROM (SELECT 1 FROM outbox_dead_letters LIMIT 100000) aside)",
            )
            .fetch_one(&pool)
            .await;
            let (events, oldest, dead_letters) = backlog.map_err(|error| error.to_string())?;
            let labels = ServiceLabels { service };
            let metrics = metrics();
            metrics.outbox_backlog.get_or_create(&labels).set(events);
            metrics.outbox_oldest_age.get_or_create(&labels).set(oldest);
            metrics
                .outbox_dead_letters
                .get_or_create(&labels)
                .set(dead_letters);
            Ok(())
        }
    })
}
