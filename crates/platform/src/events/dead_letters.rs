//! Events the bus refused for good, set aside so the events behind them flow.
//!
//! The relay moves such an event from the outbox into `outbox_dead_letters`, with the reason, in
//! the transaction that marks its neighbours published; it logs it once and reports the service's
//! outbox as degraded ([`OUTBOX_COMPONENT`]) until the table is empty again. Nothing is deleted:
//! an operator can fix the cause and move the event back into the outbox.

use sqlx::PgConnection;
use uuid::Uuid;

/// The component of a service's health that is degraded while events are set aside (a gRPC health
/// service name, so other services and the edge's `/readyz` can see it).
pub const OUTBOX_COMPONENT: &str = "opendata.outbox";

/// An event the bus refused for good, and why.
pub(crate) struct Refused {
    pub(crate) id: Uuid,
    pub(crate) subject: String,
    pub(crate) reason: String,
}

/// Moves `refused` from the outbox into `outbox_dead_letters`.
pub(crate) async fn set_aside(
    conn: &mut PgConnection,
    refused: &[Refused],
) -> Result<(), sqlx::Error> {
    if refused.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = refused.iter().map(|event| event.id).collect();
    let reasons: Vec<&str> = refused.iter().map(|event| event.reason.as_str()).collect();
    sqlx::query(
        "INSERT INTO outbox_dead_letters (id, subject, payload, headers, created_at, reason) \
         SELECT o.id, o.subject, o.payload, o.headers, o.created_at, r.reason \
         FROM outbox o JOIN UNNEST($1::uuid[], $2::text[]) AS r(id, reason) ON r.id = o.id \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&reasons)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many events are set aside.
pub(crate) async fn count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox_dead_letters")
        .fetch_one(conn)
        .await
}
