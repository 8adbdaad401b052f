//! Writing events into the outbox, inside the caller's transaction.

use opendata_limits::EVENT_BYTES;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::telemetry::current_context_headers;

/// The canonical subject of an event: `opendata.<domain>.v1.<event_name>`.
pub fn subject(domain: &str, event_name: &str) -> String {
    format!("opendata.{domain}.v1.{event_name}")
}

/// An event larger than [`EVENT_BYTES`]: a bug in its producer, refused before anything commits.
#[derive(Debug, thiserror::Error)]
#[error("event {subject} is {bytes} bytes, over the limit of {} (limit {})", EVENT_BYTES.value, EVENT_BYTES.name)]
pub struct EventTooLarge {
    /// Its subject.
    pub subject: String,
    /// Its size.
    pub bytes: usize,
}

/// An event to write into the outbox.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    /// Its subject ([`subject`]).
    pub subject: String,
    /// Its id (the `Nats-Msg-Id`).
    pub id: Uuid,
    /// The protobuf event message.
    pub payload: Vec<u8>,
}

/// Adds an event to the outbox of the current schema, with the current trace context. Call it in
/// the transaction that makes the change the event reports; the relay publishes it after commit.
pub async fn enqueue(
    conn: &mut PgConnection,
    subject: &str,
    event_id: Uuid,
    payload: Vec<u8>,
) -> Result<(), sqlx::Error> {
    enqueue_many(
        conn,
        vec![OutboxEvent {
            subject: subject.to_owned(),
            id: event_id,
            payload,
        }],
    )
    .await
}

/// Adds events to the outbox in one statement, like [`enqueue`].
pub async fn enqueue_many(
    conn: &mut PgConnection,
    events: Vec<OutboxEvent>,
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    // Every event is small by construction (they carry ids, versions and fields with limits);
    // one that is not would only be set aside by the relay, so the change it reports is refused
    // here instead, whole, rather than committed with its event lost.
    if let Some(event) = events
        .iter()
        .find(|event| event.payload.len() > EVENT_BYTES.get())
    {
        return Err(sqlx::Error::Encode(Box::new(EventTooLarge {
            subject: event.subject.clone(),
            bytes: event.payload.len(),
        })));
    }
    let headers = serde_json::to_value(current_context_headers()).unwrap_or_default();
    let (mut ids, mut subjects, mut payloads) = (Vec::new(), Vec::new(), Vec::new());
    for event in events {
        ids.push(event.id);
        subjects.push(event.subject);
        payloads.push(event.payload);
    }
    sqlx::query(
        "INSERT INTO outbox (id, subject, payload, headers) \
         SELECT id, subject, payload, $4 FROM UNNEST($1::uuid[], $2::text[], $3::bytea[]) \
         AS t(id, subject, payload)",
    )
    .bind(ids)
    .bind(subjects)
    .bind(payloads)
    .bind(headers)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify('outbox_' || current_schema(), '')")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
