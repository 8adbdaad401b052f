//! SQL over the award dataset's publishing state: the key it is pushed with, and what was pushed
//! last (one row).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// Where the dataset stands.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Whether a key is set.
    pub key_set: bool,
    /// Last push.
    pub last_pushed_at: Option<DateTime<Utc>>,
    /// Awards in it.
    pub rows_pushed: i64,
    /// The last failure.
    pub last_error: String,
}

/// Advisory lock key of the sync (one replica pushes at a time).
const SYNC_LOCK: i64 = 0x0EE0_0038;

/// Sets the key the dataset is pushed with (set by `set_by` at `at`); the next round pushes.
pub async fn set_key(
    executor: impl PgExecutor<'_>,
    key: &str,
    set_by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO publishing (singleton, api_key, set_by, set_at) VALUES (true, $1, $2, $3) \
         ON CONFLICT (singleton) DO UPDATE SET api_key = EXCLUDED.api_key, \
         set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at, pushed_state = '', last_error = ''",
        key,
        set_by,
        at,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Where the dataset stands; `None` before a key is set.
pub async fn status(executor: impl PgExecutor<'_>) -> Result<Option<Status>, sqlx::Error> {
    sqlx::query_as!(
        Status,
        r#"SELECT true AS "key_set!", last_pushed_at, rows_pushed, last_error FROM publishing"#,
    )
    .fetch_optional(executor)
    .await
}

/// Takes the sync's lock for the transaction, if no other replica holds it.
pub async fn try_lock(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    opendata_platform::db::try_transaction_lock(conn, SYNC_LOCK).await
}

/// The key and the state last pushed (`generation/day`); `None` before a key is set.
pub async fn key_and_pushed_state(
    conn: &mut PgConnection,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query!("SELECT api_key, pushed_state FROM publishing")
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|row| (row.api_key, row.pushed_state)))
}

/// Records a push of `rows` awards at state `state`.
pub async fn record_push(
    conn: &mut PgConnection,
    state: &str,
    at: DateTime<Utc>,
    rows: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE publishing SET pushed_state = $1, last_pushed_at = $2, rows_pushed = $3, last_error = ''",
        state,
        at,
        rows,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records why the last push failed.
pub async fn record_failure(conn: &mut PgConnection, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE publishing SET last_error = $1", error)
        .execute(conn)
        .await?;
    Ok(())
}
