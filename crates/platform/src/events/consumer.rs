//! Durable pull consumers with explicit acks. Handlers must be idempotent; [`claim`] records an
//! event id in the inbox inside the handler's transaction so a redelivered event is skipped.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _};
use sqlx::PgConnection;
use tracing::Instrument as _;
use uuid::Uuid;

use super::bus::{BusError, EventBus};
use crate::db::is_broken_deployment;
use crate::metrics::{ConsumerLabels, Probe, Seconds, metrics, seconds_since};
use crate::shutdown::Shutdown;
use crate::tasks::TaskResult;
use crate::telemetry;

/// A group still being applied after this many acknowledgement waits is abandoned (its events
/// retried), so a handler stuck on a call that never answers cannot hold its consumer forever.
pub const GROUP_DEADLINE_WAITS: u32 = 10;
/// Longest wait before a failed event is retried.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// A failing event is logged as an error every this many deliveries.
const REPORT_EVERY: i64 = 10;

/// An event as a handler sees it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event id (`Nats-Msg-Id`).
    pub id: Uuid,
    /// The event name: the last token of the subject (`version_committed`).
    pub name: String,
    /// The protobuf payload.
    pub payload: Bytes,
    /// How many times this event has been delivered, starting at 1.
    pub delivery: i64,
    /// The event's span, a child of the span that published it.
    pub span: tracing::Span,
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A transient failure (database down...): the event is redelivered later.
    #[error("retry later: {0}")]
    Retry(String),
    /// The event can never be applied (undecodable payload): it is logged and dropped.
    #[error("rejected: {0}")]
    Reject(String),
    /// The deployment is broken (a table is missing, a privilege lacking): the event is kept for
    /// later and the consumer stops, so its supervisor reports the failure instead of retrying
    /// forever in silence.
    #[error("cannot go on: {0}")]
    Fatal(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        if is_broken_deployment(&error) {
            HandlerError::Fatal(error.to_string())
        } else {
            HandlerError::Retry(error.to_string())
        }
    }
}

/// Why a consumer stopped.
enum Stopped {
    /// NATS trouble: reconnect and resume.
    Bus(BusError),
    /// A handler said the deployment is broken.
    Fatal(String),
}

impl From<BusError> for Stopped {
    fn from(error: BusError) -> Self {
        Stopped::Bus(error)
    }
}

impl From<prost::DecodeError> for HandlerError {
    fn from(error: prost::DecodeError) -> Self {
        HandlerError::Reject(format!("undecodable payload: {error}"))
    }
}

/// Applies events of one consumer.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies one event. Must be idempotent.
    fn handle(&self, event: Event) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Applies the events that arrived together, in order, and says how each went (in the same
    /// order). Events left without an outcome (a shorter list) are retried later, as failed
    /// ones. The default applies them one by one, each in its span, and stops at the first
    /// [`HandlerError::Fatal`] (the events after it wait for the restarted consumer). A handler
    /// that can apply many events for the price of one (a search index write) overrides it, and
    /// should fail only the events it could not apply.
    fn handle_group(
        &self,
        events: Vec<Event>,
    ) -> impl Future<Output = Vec<Result<(), HandlerError>>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events {
                let span = event.span.clone();
                let outcome = self.handle(event).instrument(span).await;
                let fatal = matches!(outcome, Err(HandlerError::Fatal(_)));
                outcomes.push(outcome);
                if fatal {
                    break;
                }
            }
            outcomes
        }
    }
}

/// Records that `consumer` applied `event_id`; false when it already had, in which case the
/// caller should skip the event. Call inside the transaction that applies the event.
pub async fn claim(
    conn: &mut PgConnection,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// How a consumer paces itself against JetStream's redelivery.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// How long JetStream waits for an event's acknowledgement before delivering it again. While
    /// a handler works on an event, the consumer tells JetStream it is in progress every third of
    /// this, so a slow event is never delivered twice at once.
    pub ack_wait: Duration,
    /// Most events fetched at once. Those that have arrived are given to the handler as one
    /// group ([`EventHandler::handle_group`]) and reported in progress together while it works.
    /// The next fetch may arrive meanwhile and wait unacknowledged, so a group must be applied
    /// well within `ack_wait`; a group still running after [`GROUP_DEADLINE_WAITS`] waits is
    /// abandoned and its events retried.
    pub batch: usize,
}

/// How long JetStream waits for an acknowledgement by default.
pub const ACK_WAIT: Duration = Duration::from_secs(30);

impl Default for Pace {
    fn default() -> Self {
        Pace {
            ack_wait: ACK_WAIT,
            batch: 20,
        }
    }
}

/// Runs a durable consumer of `domain`'s events named `event_filter` (`>` for all), applying each
/// with `handler`, until shutdown. Reconnects and resumes on its own when NATS fails; stops with
/// an error when a handler says the deployment is broken ([`HandlerError::Fatal`]).
pub async fn run_consumer<H: EventHandler>(
    bus: EventBus,
    domain: &'static str,
    event_filter: &'static str,
    durable: &'static str,
    handler: H,
    shutdown: Shutdown,
) -> TaskResult {
    let route = Route {
        domain,
        event_filter,
        durable,
        own_copy: None,
    };
    run_paced_consumer(bus, route, handler, shutdown, Pace::default()).await
}

/// Which events a consumer reads, under which durable name.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The domain whose stream it reads.
    pub domain: &'static str,
    /// The events' names (`>` for all).
    pub event_filter: &'static str,
    /// The durable consumer's name: replicas sharing it share the events, each applied by one.
    pub durable: &'static str,
    /// A copy of every event for this process alone, rather than a share (see [`OwnCopy`]).
    pub own_copy: Option<OwnCopy>,
}

/// A consumer of one's own: every event since `since` reaches this replica, whatever the others
/// take (a replica holding state of its own, as the embedded search index does). Its durable name
/// carries `replica`; JetStream deletes it after [`OWN_COPY_INACTIVE`] without its replica.
#[derive(Debug, Clone, Copy)]
pub struct OwnCopy {
    /// This replica's tag in the consumer's name.
    pub replica: u32,
    /// The first events wanted: those published from this time on (less [`CLOCK_SKEW`], so a
    /// clock ahead of the NATS server's loses none).
    pub since: std::time::SystemTime,
}

/// How long a replica's own consumer outlives its replica.
pub const OWN_COPY_INACTIVE: Duration = Duration::from_secs(3600);
/// How far a replica's clock may be ahead of the NATS server's.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// [`run_consumer`] at a given [`Pace`].
pub async fn run_paced_consumer<H: EventHandler>(
    bus: EventBus,
    route: Route,
    handler: H,
    shutdown: Shutdown,
    pace: Pace,
) -> TaskResult {
    let durable = route.durable;
    while !shutdown.is_triggered() {
        match consume(&bus, route, &handler, &shutdown, pace).await {
            Ok(()) => {}
            Err(Stopped::Bus(error)) => {
                tracing::warn!(durable, %error, "event consumer stopped, restarting");
            }
            Err(Stopped::Fatal(reason)) => {
                return Err(format!("consumer {durable} cannot apply events: {reason}"));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = shutdown.triggered() => {}
        }
    }
    Ok(())
}

async fn consume<H: EventHandler>(
    bus: &EventBus,
    route: Route,
    handler: &H,
    shutdown: &Shutdown,
    pace: Pace,
) -> Result<(), Stopped> {
    let Route {
        domain,
        event_filter,
        durable,
        own_copy,
    } = route;
    let stream = bus.ensure_stream(domain).await?;
    let (name, deliver_policy, inactive_threshold) = match own_copy {
        Some(own) => (
            bus.consumer_name(&format!("{durable}_{:08x}", own.replica)),
            DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from(
                    own.since.checked_sub(CLOCK_SKEW).unwrap_or(own.since),
                ),
            },
            OWN_COPY_INACTIVE,
        ),
        // Shared, and kept however long every replica is away.
        None => (
            bus.consumer_name(durable),
            DeliverPolicy::All,
            Duration::ZERO,
        ),
    };
    let created = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: bus.full_subject(&format!("opendata.{domain}.v1.{event_filter}")),
                ack_policy: AckPolicy::Explicit,
                ack_wait: pace.ack_wait,
                // Unlimited: a transient failure (database down) must never drop an event.
                max_deliver: -1,
                deliver_policy,
                inactive_threshold,
                ..Default::default()
            },
        )
        .await
        .map_err(BusError::new)?;
    let labels = ConsumerLabels {
        stream: bus.stream_name(domain),
        consumer: name.clone(),
    };
    let _pending = consumer_probe(created.clone(), labels.clone());
    let lag = metrics().consumer_lag.get_or_create_owned(&labels);
    let consumer: pull::Stream = created
        .stream()
        .max_messages_per_batch(pace.batch.max(1))
        .expires(Duration::from_secs(10))
        .heartbeat(Duration::from_secs(3))
        .messages()
        .await
        .map_err(BusError::new)?;
    // Whatever has arrived is applied as one group (one index write for many events).
    let mut groups = std::pin::pin!(
        consumer
            .take_until(shutdown.triggered())
            .ready_chunks(pace.batch.max(1))
    );
    while let Some(items) = groups.next().await {
        let mut group = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(message) => {
                    if let Some(delivered) = received(durable, message).await {
                        group.push(delivered);
                    }
                }
                Err(error) => {
                    use async_nats::jetstream::consumer::pull::MessagesErrorKind as Kind;
                    match error.kind() {
                        Kind::ConsumerDeleted
                        | Kind::PushBasedConsumer
                        | Kind::RequestLimitExceeded => {
                            return Err(BusError::new(error).into());
                        }
                        _ => tracing::debug!(durable, %error, "transient consumer error"),
                    }
                }
            }
        }
        if group.is_empty() {
            continue;
        }
        apply_group(durable, handler, group, pace, &lag).await?;
    }
    Ok(())
}

/// A message and the event it carries.
struct Delivered {
    message: async_nats::jetstream::Message,
    event: Event,
}

/// The event in `message`; `None` (and the message dropped) when it has no valid id.
async fn received(durable: &str, message: async_nats::jetstream::Message) -> Option<Delivered> {
    let delivery = message.info().map(|info| info.delivered).unwrap_or(1);
    let event_id = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(async_nats::header::NATS_MESSAGE_ID))
        .and_then(|id| Uuid::parse_str(id.as_str()).ok());
    let name = message
        .subject
        .as_str()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let Some(event_id) = event_id else {
        tracing::error!(durable, subject = %message.subject, "event without a valid Nats-Msg-Id, dropped");
        let _ = message.ack_with(AckKind::Term).await;
        return None;
    };
    let span = tracing::info_span!("event", durable, event = %name, %event_id);
    if let Some(headers) = message.headers.as_ref() {
        telemetry::set_remote_parent(&span, &NatsHeaders(headers));
    }
    let event = Event {
        id: event_id,
        name,
        payload: message.payload.clone(),
        delivery,
        span,
    };
    Some(Delivered { message, event })
}

/// Applies a group of events with `handler`, telling JetStream they are in progress meanwhile,
/// then acknowledges each by its outcome. Stops the consumer when one says the deployment is
/// broken.
async fn apply_group<H: EventHandler>(
    durable: &str,
    handler: &H,
    group: Vec<Delivered>,
    pace: Pace,
    lag: &Seconds,
) -> Result<(), Stopped> {
    let (messages, events): (Vec<_>, Vec<_>) = group
        .into_iter()
        .map(|delivered| (delivered.message, delivered.event))
        .unzip();
    let spans: Vec<(tracing::Span, i64)> = events
        .iter()
        .map(|event| (event.span.clone(), event.delivery))
        .collect();
    // A panic is a bug in the handler: the events are kept and retried with backoff, and the
    // errors say so, rather than stopping the consumer on every redelivery. A handler stuck past
    // the deadline (a call that never answers) is abandoned the same way.
    let count = messages.len();
    let handling = std::panic::AssertUnwindSafe(handler.handle_group(events)).catch_unwind();
    let handling = tokio::time::timeout(pace.ack_wait * GROUP_DEADLINE_WAITS, handling);
    let mut handling = std::pin::pin!(handling);
    let every = (pace.ack_wait / 3).max(Duration::from_millis(100));
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let outcomes = loop {
        tokio::select! {
            outcomes = &mut handling => break outcomes,
            _ = progress.tick() => {
                // Still working on them: JetStream restarts its wait instead of redelivering.
                for message in &messages {
                    if let Err(error) = message.ack_with(AckKind::Progress).await {
                        tracing::debug!(durable, %error, "progress not acknowledged");
                    }
                }
            }
        }
    };
    let outcomes = match outcomes {
        Ok(Ok(outcomes)) if outcomes.len() <= count => outcomes,
        Ok(Ok(outcomes)) => {
            tracing::error!(
                durable,
                events = count,
                outcomes = outcomes.len(),
                "the handler returned more outcomes than events; retrying them"
            );
            Vec::new()
        }
        Ok(Err(_)) => failed_group(count, "the handler panicked on one of the events"),
        Err(_) => failed_group(
            count,
            &format!(
                "the handler did not finish within {:?}",
                pace.ack_wait * GROUP_DEADLINE_WAITS
            ),
        ),
    };
    let mut outcomes = outcomes.into_iter();
    let mut fatal = None;
    for (message, (span, delivery)) in messages.into_iter().zip(spans) {
        let outcome = match (&fatal, outcomes.next()) {
            (None, Some(outcome)) => outcome,
            // The handler stopped at a fatal event, or gave no outcome for this one.
            _ => Err(HandlerError::Retry(
                "not applied: the handler stopped before this event".to_owned(),
            )),
        };
        let ack = match outcome {
            Ok(()) => {
                if let Ok(info) = message.info() {
                    lag.set(seconds_since(info.published.unix_timestamp_nanos()));
                }
                message.ack().await
            }
            Err(HandlerError::Reject(reason)) => {
                span.in_scope(|| tracing::error!(durable, %reason, "event rejected"));
                message.ack_with(AckKind::Term).await
            }
            Err(HandlerError::Fatal(reason)) => {
                span.in_scope(|| tracing::error!(durable, %reason, "event cannot be applied"));
                fatal = Some(reason);
                // Kept for the restarted consumer.
                message.ack_with(AckKind::Nak(Some(MAX_RETRY_DELAY))).await
            }
            Err(HandlerError::Retry(reason)) => {
                span.in_scope(|| {
                    if delivery % REPORT_EVERY == 0 {
                        tracing::error!(durable, %reason, delivery, "event keeps failing, still retrying");
                    } else {
                        tracing::warn!(durable, %reason, delivery, "event failed, will retry");
                    }
                });
                message
                    .ack_with(AckKind::Nak(Some(retry_delay(delivery))))
                    .await
            }
        };
        if let Err(error) = ack {
            tracing::warn!(durable, %error, "ack failed; the event will be redelivered");
        }
    }
    match fatal {
        Some(reason) => Err(Stopped::Fatal(reason)),
        None => Ok(()),
    }
}

/// `count` outcomes retrying every event of a group for `reason`.
fn failed_group(count: usize, reason: &str) -> Vec<Result<(), HandlerError>> {
    (0..count)
        .map(|_| Err(HandlerError::Retry(reason.to_owned())))
        .collect()
}

/// Exponential backoff from 200 ms, capped.
fn retry_delay(delivery: i64) -> Duration {
    let exponent = u32::try_from(delivery.clamp(1, 16) - 1).unwrap_or(0);
    Duration::from_millis(200u64.saturating_mul(1 << exponent)).min(MAX_RETRY_DELAY)
}

/// Trace-context carrier over NATS headers.
struct NatsHeaders<'a>(&'a async_nats::HeaderMap);

impl opentelemetry::propagation::Extractor for NatsHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|value| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|(name, _)| std::str::from_utf8(name.as_ref()).ok())
            .collect()
    }
}

/// Reports how far `consumer` is behind its stream at every scrape.
fn consumer_probe(
    consumer: async_nats::jetstream::consumer::Consumer<pull::Config>,
    labels: ConsumerLabels,
) -> Probe {
    metrics().on_scrape("consumer", move || {
        let consumer = consumer.clone();
        let labels = labels.clone();
        async move {
            let info = consumer
                .get_info()
                .await
                .map_err(|error| error.to_string())?;
            let metrics = metrics();
            metrics
                .consumer_pending
                .get_or_create(&labels)
                .set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
            metrics
                .consumer_unacknowledged
                .get_or_create(&labels)
                .set(i64::try_from(info.num_ack_pending).unwrap_or(i64::MAX));
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_a_cap() {
        assert_eq!(retry_delay(1), Duration::from_millis(200));
        assert_eq!(retry_delay(2), Duration::from_millis(400));
        assert_eq!(retry_delay(100), MAX_RETRY_DELAY);
    }
}
