//! SQL over the audit log, checked at compile time against the migrations (`sqlx::query!`).

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};

use super::AuditEntry;

/// Appends an entry, in the caller's transaction (every change writes its entry with it).
pub async fn insert(
    conn: &mut PgConnection,
    actor_id: &str,
    action: &str,
    subject: &str,
    reason: &str,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_log (actor_id, action, subject, reason, details) \
         VALUES ($1, $2, $3, $4, $5)",
        actor_id,
        action,
        subject,
        reason,
        details,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// At most `limit` entries, newest first: about `subject` when given, older than `before_id`
/// when given.
pub async fn newest(
    executor: impl PgExecutor<'_>,
    subject: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as!(
        AuditEntry,
        r#"SELECT id, actor_id, action, subject, reason, details AS "details: Json<Value>", at
           FROM audit_log
           WHERE ($1::text IS NULL OR subject = $1) AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3"#,
        subject,
        before_id,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// At most `limit` entries about `subject` with one of `actions`, newest first.
pub async fn about(
    executor: impl PgExecutor<'_>,
    subject: &str,
    actions: &[String],
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as!(
        AuditEntry,
        r#"SELECT id, actor_id, action, subject, reason, details AS "details: Json<Value>", at
           FROM audit_log WHERE subject = $1 AND action = ANY($2)
           ORDER BY id DESC LIMIT $3"#,
        subject,
        actions,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// At most `limit` entries after `after_id`, oldest first.
pub async fn oldest_after(
    executor: impl PgExecutor<'_>,
    after_id: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as!(
        AuditEntry,
        r#"SELECT id, actor_id, action, subject, reason, details AS "details: Json<Value>", at
           FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2"#,
        after_id,
        limit,
    )
    .fetch_all(executor)
    .await
}
