//! The append-only audit log: who did what to what, when and why. Every identity change and every
//! workflow transition writes an entry in the same transaction as the change; the database refuses
//! updates, deletes and truncation (migration 0101). Readable by the CDO and the panel, and
//! exportable as CSV.

use chrono::{DateTime, Utc};
use opendata_limits::TEXT_NAME;
use opendata_platform::auth::Principal;
use opendata_platform::authz::Action;
use serde_json::Value;
use sqlx::PgPool;

use crate::error::{GovernanceError, within};

/// Entries per page when the request does not say.
const DEFAULT_PAGE: u32 = 100;
/// Most entries per page.
const MAX_PAGE: u32 = 1_000;
/// Entries read at a time while exporting.
const EXPORT_PAGE: i64 = 1_000;

mod store;

/// One entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Increasing id.
    pub id: i64,
    /// Principal who acted.
    pub actor_id: String,
    /// What was done (`dataset.withheld`, `key.issued`).
    pub action: String,
    /// What it was done to (`dataset:abcd-1234`).
    pub subject: String,
    /// Why, when given.
    pub reason: String,
    pub details: sqlx::types::Json<Value>,
    /// When.
    pub at: DateTime<Utc>,
}

pub use store::insert as record;

/// At most `limit` entries about `subject` with one of `actions`, newest first.
pub async fn about(
    executor: impl sqlx::PgExecutor<'_>,
    subject: &str,
    actions: &[String],
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    store::about(executor, subject, actions, limit).await
}

/// Reads the audit log.
#[derive(Clone)]
pub struct Audit {
    pool: PgPool,
}

impl Audit {
    /// The log in `pool`.
    pub fn new(pool: PgPool) -> Self {
        Audit { pool }
    }

    /// Entries newest first, optionally about one subject, older than `before_id` when set.
    pub async fn list(
        &self,
        caller: &Principal,
        subject: Option<&str>,
        page_size: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<AuditEntry>, GovernanceError> {
        caller
            .authorize(Action::ReadAudit, None)
            .map_err(GovernanceError::Denied)?;
        let subject = subject
            .map(|subject| within("subject", subject, TEXT_NAME))
            .transpose()?;
        let limit = match page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        Ok(store::newest(
            &self.pool,
            subject.filter(|s| !s.is_empty()),
            before_id.filter(|id| *id > 0),
            i64::from(limit),
        )
        .await?)
    }

    /// The whole log as CSV, oldest first, in pieces of about `chunk_bytes`, sent to `out`.
    pub async fn export(
        &self,
        caller: &Principal,
        chunk_bytes: usize,
        out: tokio::sync::mpsc::Sender<Result<Vec<u8>, GovernanceError>>,
    ) -> Result<(), GovernanceError> {
        caller
            .authorize(Action::ReadAudit, None)
            .map_err(GovernanceError::Denied)?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        let header = [
            "id", "at", "actor_id", "action", "subject", "reason", "details",
        ];
        writer.write_record(header).map_err(csv_error)?;
        let mut after = 0i64;
        loop {
            let page = store::oldest_after(&self.pool, after, EXPORT_PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            for entry in &page {
                writer
                    .write_record([
                        entry.id.to_string(),
                        entry
                            .at
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        entry.actor_id.clone(),
                        entry.action.clone(),
                        entry.subject.clone(),
                        entry.reason.clone(),
                        entry.details.0.to_string(),
                    ])
                    .map_err(csv_error)?;
                if writer.get_ref().len() >= chunk_bytes {
                    let full = std::mem::replace(&mut writer, csv::Writer::from_writer(Vec::new()));
                    let chunk = full
                        .into_inner()
                        .map_err(|e| GovernanceError::Internal(e.to_string()))?;
                    if out.send(Ok(chunk)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
        let rest = writer
            .into_inner()
            .map_err(|e| GovernanceError::Internal(e.to_string()))?;
        if !rest.is_empty() {
            let _ = out.send(Ok(rest)).await;
        }
        Ok(())
    }
}

fn csv_error(error: csv::Error) -> GovernanceError {
    GovernanceError::Internal(error.to_string())
}
