//! Hostile clients through the real edge and gRPC: every probe of the hardening review gets the
//! status it should, the process stays up, and ordinary callers keep being served.

mod connections;
mod events;
mod fairness;
mod fields;
mod probes;
mod queries;

use opendata_testkit::wait_until;
use sqlx::{PgPool, Postgres, Transaction};

use crate::support::EVENTUALLY;

/// Locks the table of `dataset`'s current version until the transaction ends: queries of it
/// wait for the lock, before their first row, for as long as a test wants.
async fn lock_rows(pool: &PgPool, dataset: &str) -> (Transaction<'static, Postgres>, String) {
    let table: String =
        sqlx::query_scalar("SELECT current_table FROM catalog.datasets WHERE id = $1")
            .bind(dataset)
            .fetch_one(pool)
            .await
            .unwrap();
    let mut lock = pool.begin().await.unwrap();
    sqlx::query(&format!(
        "LOCK TABLE data.\"{table}\" IN ACCESS EXCLUSIVE MODE"
    ))
    .execute(&mut *lock)
    .await
    .unwrap();
    (lock, table)
}

/// Queries waiting for the lock on `table` (not the planner's estimates of them).
async fn waiting_on(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
         AND position($1 in query) > 0 AND query NOT LIKE 'EXPLAIN%' \
         AND pid <> pg_backend_pid()",
    )
    .bind(table)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Waits until exactly `count` queries wait for the lock on `table`.
async fn wait_for_waiting(pool: &PgPool, table: &str, count: i64) {
    wait_until(EVENTUALLY, &format!("{count} queries waiting"), || async {
        (waiting_on(pool, table).await == count).then_some(())
    })
    .await;
}
