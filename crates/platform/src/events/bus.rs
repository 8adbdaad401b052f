//! The connection to NATS JetStream and the naming of subjects, streams and consumers.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, stream};
use async_nats::{ConnectOptions, HeaderMap};
use bytes::Bytes;
use futures::StreamExt as _;
use opendata_limits::EVENT_BYTES;

use crate::config::NatsConfig;

/// How long JetStream API calls and publish acknowledgements may take.
const JETSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// How long JetStream remembers message ids to drop duplicates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Longest wait for the next stored event while reading past events.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long events are kept in a stream.
const EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Failures talking to NATS.
#[derive(Debug, thiserror::Error)]
#[error("nats: {message}")]
pub struct BusError {
    message: String,
    permanent: bool,
}

impl BusError {
    pub(crate) fn new(error: impl std::fmt::Display) -> Self {
        BusError {
            message: error.to_string(),
            permanent: false,
        }
    }

    /// A refusal that no retry changes: the event itself is wrong for the bus.
    fn refused(message: impl Into<String>) -> Self {
        BusError {
            message: message.into(),
            permanent: true,
        }
    }

    /// Whether publishing the same event again can never succeed (it is too large, its subject is
    /// invalid), as opposed to NATS being unreachable for now.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

/// Whether NATS accepts `subject` for publishing: dot-separated tokens, none empty, no whitespace.
fn is_publishable(subject: &str) -> bool {
    !subject.is_empty()
        && !subject.contains(char::is_whitespace)
        && subject.split('.').all(|token| !token.is_empty())
}

/// A JetStream connection with this deployment's name prefix. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    prefix: String,
    stream_replicas: usize,
}

impl EventBus {
    /// Connects to NATS. Returns at once even when NATS is down: the client keeps reconnecting, and
    /// events wait in the outbox meanwhile.
    pub async fn connect(config: &NatsConfig, client_name: &str) -> Result<Self, BusError> {
        let mut options = match &config.credentials_file {
            Some(path) => ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|error| {
                    BusError::new(format!("nats.credentials_file {}: {error}", path.display()))
                })?,
            None => ConnectOptions::new(),
        };
        if let Some(path) = &config.ca_file {
            // Read now: the client would otherwise retry a missing file forever, quietly.
            let pem = std::fs::read(path).map_err(|error| {
                BusError::new(format!("nats.ca_file {}: {error}", path.display()))
            })?;
            if !crate::channels::is_pem_certificate(&pem) {
                return Err(BusError::new(format!(
                    "nats.ca_file {}: no PEM certificate in it",
                    path.display()
                )));
            }
            options = options.add_root_certificates(path.clone());
        }
        let client = options
            .require_tls(config.tls_required)
            .name(client_name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(3))
            .ping_interval(Duration::from_secs(10))
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64 * 100).min(2_000))
            })
            .event_callback(|event| async move {
                tracing::info!(%event, "nats connection event");
            })
            .connect(config.url.as_str())
            .await
            .map_err(BusError::new)?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(JETSTREAM_TIMEOUT)
            .build(client.clone());
        Ok(EventBus {
            client,
            jetstream,
            prefix: config.prefix.clone(),
            stream_replicas: config.stream_replicas.max(1),
        })
    }

    /// Whether the connection to NATS is up right now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The full subject for a canonical subject (`opendata.catalog.v1.dataset_created`).
    pub fn full_subject(&self, subject: &str) -> String {
        if self.prefix.is_empty() {
            subject.to_owned()
        } else {
            format!("{}.{subject}", self.prefix)
        }
    }

    /// The stream holding one domain's events.
    pub fn stream_name(&self, domain: &str) -> String {
        let name = format!("OPENDATA_{}", domain.to_ascii_uppercase());
        if self.prefix.is_empty() {
            name
        } else {
            format!("{}_{name}", self.prefix.to_ascii_uppercase())
        }
    }

    /// A durable consumer's name.
    pub fn consumer_name(&self, durable: &str) -> String {
        if self.prefix.is_empty() {
            durable.to_owned()
        } else {
            format!("{}_{durable}", self.prefix)
        }
    }

    /// Creates a domain's stream if it does not exist yet.
    pub async fn ensure_stream(&self, domain: &str) -> Result<stream::Stream, BusError> {
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: self.stream_name(domain),
                subjects: vec![self.full_subject(&format!("opendata.{domain}.v1.>"))],
                duplicate_window: DUPLICATE_WINDOW,
                max_age: EVENT_RETENTION,
                num_replicas: self.stream_replicas,
                ..Default::default()
            })
            .await
            .map_err(BusError::new)
    }

    /// Deletes a domain's stream (used to clean up after tests).
    pub async fn delete_stream(&self, domain: &str) -> Result<(), BusError> {
        match self.jetstream.delete_stream(self.stream_name(domain)).await {
            Ok(_) => Ok(()),
            Err(error) if error.to_string().contains("not found") => Ok(()),
            Err(error) => Err(BusError::new(error)),
        }
    }

    /// Gives `each` the payload of every event of `domain` named `event_filter` (`>` for all)
    /// published from `since` until this call, oldest first, one at a time: what other processes
    /// applied while this one was busy (a search replica rebuilding a shared index). Events
    /// published during the read are left out. Returns how many were read.
    pub async fn read_since(
        &self,
        domain: &str,
        event_filter: &str,
        since: SystemTime,
        mut each: impl FnMut(Bytes),
    ) -> Result<u64, BusError> {
        let stream = self.ensure_stream(domain).await?;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: self.full_subject(&format!("opendata.{domain}.v1.{event_filter}")),
                deliver_policy: DeliverPolicy::ByStartTime {
                    start_time: time::OffsetDateTime::from(since),
                },
                ..Default::default()
            })
            .await
            .map_err(BusError::new)?;
        let stored = consumer.cached_info().num_pending;
        if stored == 0 {
            return Ok(0);
        }
        let mut messages = consumer.messages().await.map_err(BusError::new)?;
        let mut read = 0;
        while read < stored {
            let message = tokio::time::timeout(READ_TIMEOUT, messages.next())
                .await
                .map_err(|_| {
                    BusError::new(format!(
                        "timed out reading {domain} events after {read} of {stored}"
                    ))
                })?
                .ok_or_else(|| {
                    BusError::new(format!("{domain} events ended after {read} of {stored}"))
                })?
                .map_err(BusError::new)?;
            read += 1;
            each(message.payload.clone());
        }
        Ok(read)
    }

    /// Publishes one event and waits for JetStream's acknowledgement. `event_id` becomes
    /// `Nats-Msg-Id`, so publishing the same event twice stores it once. An event larger than
    /// [`EVENT_BYTES`] (or than the server takes) or with an invalid subject is refused for good
    /// ([`BusError::is_permanent`]).
    pub async fn publish(
        &self,
        subject: &str,
        event_id: &str,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), BusError> {
        if payload.len() > EVENT_BYTES.get() {
            return Err(BusError::refused(format!(
                "the event is {} bytes, over the limit of {} (limit {})",
                payload.len(),
                EVENT_BYTES.value,
                EVENT_BYTES.name
            )));
        }
        let subject = self.full_subject(subject);
        if !is_publishable(&subject) {
            return Err(BusError::refused(format!(
                "`{}` is not a valid subject",
                subject.escape_debug()
            )));
        }
        headers.insert(async_nats::header::NATS_MESSAGE_ID, event_id);
        let acknowledgement = self
            .jetstream
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(|error| match error.kind() {
                PublishErrorKind::MaxPayloadExceeded => BusError::refused(error.to_string()),
                _ => BusError::new(error),
            })?;
        acknowledgement.await.map_err(BusError::new)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_with_empty_tokens_or_whitespace_are_not_publishable() {
        assert!(is_publishable("opendata.catalog.v1.dataset_created"));
        assert!(is_publishable("t1.opendata.catalog.v1.dataset_created"));
        for subject in ["", "a..b", ".a", "a.", "a b", "a\r\nPUB x"] {
            assert!(!is_publishable(subject), "{subject:?}");
        }
    }
}
