//! Events: a JetStream bus with prefixed names, a transactional outbox and its relay, and idempotent
//! durable consumers.
//!
//! Subjects are `opendata.<domain>.v1.<event_name>`, one stream per producing domain, payloads are
//! protobuf event messages, and the `Nats-Msg-Id` header carries the event id so JetStream drops
//! duplicates. Every name takes the deployment's prefix (see [`crate::config::NatsConfig`]).

mod bus;
mod consumer;
mod dead_letters;
mod outbox;
mod relay;

pub use bus::{BusError, EventBus};
pub use consumer::{
    ACK_WAIT, CLOCK_SKEW, Event, EventHandler, HandlerError, OWN_COPY_INACTIVE, OwnCopy, Pace,
    Route, claim, run_consumer, run_paced_consumer,
};
pub use dead_letters::OUTBOX_COMPONENT;
pub use outbox::{OutboxEvent, enqueue, enqueue_many, subject};
pub use relay::Relay;
