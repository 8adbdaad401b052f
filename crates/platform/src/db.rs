//! PostgreSQL pools and migrations. Each service owns one schema; its connections put that schema
//! first on the `search_path`, so its tables (and its `_sqlx_migrations`) live there.

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DatabaseConfig;

/// Tables every service that publishes or consumes events has: the outbox and the inbox. Their
/// migrations are numbered below 100; services number theirs from 100.
pub static PLATFORM_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connection options for a service's schema.
pub fn connect_options(
    config: &DatabaseConfig,
    schema: &str,
) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(config.url.expose_secret())?
        .options([("search_path", schema)])
        .application_name(&format!("opendata-{schema}")))
}

/// A pool whose connections work in `schema`.
pub async fn connect(config: &DatabaseConfig, schema: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .connect_with(connect_options(config, schema)?)
        .await
}

/// Creates `schema` if needed and applies the platform's migrations and then the service's.
/// `schema` is a constant chosen by the service, never user input.
pub async fn migrate(
    pool: &PgPool,
    schema: &'static str,
    service: &Migrator,
) -> Result<(), sqlx::migrate::MigrateError> {
    assert!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "schema names are plain lowercase identifiers"
    );
    let mut conn = pool.acquire().await?;
    // Serialise schema creation across replicas starting together.
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(schema)
        .execute(&mut *conn)
        .await?;
    let created = sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&mut *conn)
        .await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(schema)
        .execute(&mut *conn)
        .await?;
    created?;
    drop(conn);

    for migrator in [&PLATFORM_MIGRATOR, service] {
        Migrator {
            migrations: migrator.migrations.clone(),
            ignore_missing: true,
            ..Migrator::DEFAULT
        }
        .run(pool)
        .await?;
    }
    Ok(())
}

/// Takes advisory lock `key` for the rest of `conn`'s transaction, if no other session holds it:
/// how one replica of several runs a scheduled job. Whether it was taken.
pub async fn try_transaction_lock(
    conn: &mut sqlx::PgConnection,
    key: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(key)
        .fetch_one(conn)
        .await
}

/// Whether a database error says the deployment itself is broken (a table, column or schema is
/// missing, a privilege is lacking, a statement does not parse) rather than that the database is
/// briefly unreachable. Retrying cannot fix it: background work that meets one stops and lets its
/// supervisor report it (see [`crate::tasks`]).
pub fn is_broken_deployment(error: &sqlx::Error) -> bool {
    let code = error.as_database_error().and_then(|e| e.code());
    matches!(code.as_deref(), Some(code) if code.starts_with("42") || code == "3F000")
}

/// An error that may say the deployment is broken (see [`is_broken_deployment`]): what the rounds
/// of periodic jobs return, so their supervisor stops the service instead of retrying forever.
pub trait DeploymentError: std::fmt::Display {
    /// Whether no retry can fix it.
    fn is_broken_deployment(&self) -> bool;
}

impl DeploymentError for sqlx::Error {
    fn is_broken_deployment(&self) -> bool {
        is_broken_deployment(self)
    }
}

impl DeploymentError for std::convert::Infallible {
    fn is_broken_deployment(&self) -> bool {
        match *self {}
    }
}
