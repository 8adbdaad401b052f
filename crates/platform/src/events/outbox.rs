//! Writing events into the outbox, inside the caller's transaction.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::telemetry::current_context_headers;

/// The canonical subject of an event: `opendata.<domain>.v1.<event_name>`.
pub fn subject(domain: &str, event_name: &str) -> String {
    format!("opendata.{domain}.v1.{event_name}")
}

/// Adds an event to the outbox of the current schema, with the current trace context. Call it in
/// the transaction that makes the change the event reports; the relay publishes it after commit.
pub async fn enqueue(
    conn: &mut PgConnection,
    subject: &str,
    event_id: Uuid,
    payload: Vec<u8>,
) -> Result<(), sqlx::Error> {
    let headers = serde_json::to_value(current_context_headers()).unwrap_or_default();
    sqlx::query("INSERT INTO outbox (id, subject, payload, headers) VALUES ($1, $2, $3, $4)")
        .bind(event_id)
        .bind(subject)
        .bind(payload)
        .bind(headers)
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_notify('outbox_' || current_schema(), '')")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
