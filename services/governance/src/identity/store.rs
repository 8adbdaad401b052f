//! SQL over agencies, principals, API keys and web sessions, checked at compile time against the
//! migrations (`sqlx::query!`, see `scripts/sqlx-prepare.sh`). Functions take an executor so
//! callers choose the transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{Agency, ApiKey, KeyKind, PrincipalRow};

struct KeyRow {
    id: Uuid,
    principal_id: Uuid,
    kind: String,
    prefix: String,
    label: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRow> for ApiKey {
    fn from(row: KeyRow) -> ApiKey {
        ApiKey {
            id: row.id,
            principal_id: row.principal_id,
            kind: KeyKind::parse(&row.kind),
            prefix: row.prefix,
            label: row.label,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// The live key whose secret hashes to `hash`, with its kind and principal.
pub async fn key_holder(
    executor: impl PgExecutor<'_>,
    hash: &[u8],
) -> Result<Option<(Uuid, KeyKind, PrincipalRow)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT k.id AS key_id, k.kind, p.id, p.name, p.role, p.agency_id FROM api_keys k
           JOIN principals p ON p.id = k.principal_id WHERE k.hash = $1 AND k.revoked_at IS NULL"#,
        hash,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| {
        let principal = PrincipalRow {
            id: row.id,
            name: row.name,
            role: row.role,
            agency_id: row.agency_id,
        };
        (row.key_id, KeyKind::parse(&row.kind), principal)
    }))
}

/// A dataset in the inventory whose id begins with `prefix` (its part before the dash), if any.
pub async fn dataset_with_id_prefix(
    conn: &mut PgConnection,
    prefix: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT dataset_id FROM inventory WHERE split_part(dataset_id, '-', 1) LIKE $1 || '%' LIMIT 1",
        prefix,
    )
    .fetch_optional(conn)
    .await
}

/// Inserts an agency; `None` when its id is taken.
pub async fn insert_agency(
    conn: &mut PgConnection,
    id: &str,
    name: &str,
) -> Result<Option<Agency>, sqlx::Error> {
    sqlx::query_as!(
        Agency,
        "INSERT INTO agencies (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING \
         RETURNING id, name, created_at",
        id,
        name,
    )
    .fetch_optional(conn)
    .await
}

/// Every agency, by id.
pub async fn agencies(executor: impl PgExecutor<'_>) -> Result<Vec<Agency>, sqlx::Error> {
    sqlx::query_as!(
        Agency,
        "SELECT id, name, created_at FROM agencies ORDER BY id"
    )
    .fetch_all(executor)
    .await
}

/// Whether agency `id` exists.
pub async fn agency_exists(conn: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM agencies WHERE id = $1) AS "exists!""#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// Inserts a principal.
pub async fn insert_principal(
    conn: &mut PgConnection,
    id: Uuid,
    name: &str,
    role: &str,
    agency_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO principals (id, name, role, agency_id) VALUES ($1, $2, $3, $4)",
        id,
        name,
        role,
        agency_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Principals of one agency (or all), by name.
pub async fn principals(
    executor: impl PgExecutor<'_>,
    agency_id: Option<&str>,
) -> Result<Vec<PrincipalRow>, sqlx::Error> {
    sqlx::query_as!(
        PrincipalRow,
        "SELECT id, name, role, agency_id FROM principals \
         WHERE $1::text IS NULL OR agency_id = $1 ORDER BY name, id",
        agency_id,
    )
    .fetch_all(executor)
    .await
}

/// Whether principal `id` exists.
pub async fn principal_exists(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM principals WHERE id = $1) AS "exists!""#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// A key to insert: its secret only as a hash.
pub struct NewKey<'a> {
    pub principal_id: Uuid,
    pub kind: KeyKind,
    pub prefix: &'a str,
    pub hash: &'a [u8],
    pub label: &'a str,
}

/// Inserts a key.
pub async fn insert_key(conn: &mut PgConnection, key: &NewKey<'_>) -> Result<ApiKey, sqlx::Error> {
    let row = sqlx::query_as!(
        KeyRow,
        "INSERT INTO api_keys (id, principal_id, kind, prefix, hash, label) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, principal_id, kind, prefix, label, created_at, revoked_at",
        Uuid::now_v7(),
        key.principal_id,
        key.kind.as_str(),
        key.prefix,
        key.hash,
        key.label,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.into())
}

/// Revokes key `id` (keeping an earlier revocation's time); `None` when there is no such key.
pub async fn revoke_key(conn: &mut PgConnection, id: Uuid) -> Result<Option<ApiKey>, sqlx::Error> {
    let row = sqlx::query_as!(
        KeyRow,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 \
         RETURNING id, principal_id, kind, prefix, label, created_at, revoked_at",
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ApiKey::from))
}

/// A principal's keys, newest first.
pub async fn keys_of(
    executor: impl PgExecutor<'_>,
    principal_id: Uuid,
) -> Result<Vec<ApiKey>, sqlx::Error> {
    let rows = sqlx::query_as!(
        KeyRow,
        "SELECT id, principal_id, kind, prefix, label, created_at, revoked_at FROM api_keys \
         WHERE principal_id = $1 ORDER BY created_at DESC, id DESC",
        principal_id,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

/// Inserts a session of key `key_id` lasting `lifetime_secs`; returns when it expires.
pub async fn insert_session(
    conn: &mut PgConnection,
    id: Uuid,
    key_id: Uuid,
    hash: &[u8],
    lifetime_secs: f64,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO sessions (id, key_id, hash, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at",
        id,
        key_id,
        hash,
        lifetime_secs,
    )
    .fetch_one(conn)
    .await
}

/// The id and principal of the live session whose secret hashes to `hash`: not ended, not
/// expired, and its key not revoked.
pub async fn session_holder(
    executor: impl PgExecutor<'_>,
    hash: &[u8],
) -> Result<Option<(Uuid, PrincipalRow)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT s.id AS session_id, p.id, p.name, p.role, p.agency_id FROM sessions s \
         JOIN api_keys k ON k.id = s.key_id AND k.revoked_at IS NULL \
         JOIN principals p ON p.id = k.principal_id \
         WHERE s.hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()",
        hash,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| {
        let principal = PrincipalRow {
            id: row.id,
            name: row.name,
            role: row.role,
            agency_id: row.agency_id,
        };
        (row.session_id, principal)
    }))
}

/// Ends session `id`; whether it was live.
pub async fn end_session(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let ended = sqlx::query!(
        "UPDATE sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL",
        id,
    )
    .execute(conn)
    .await?;
    Ok(ended.rows_affected() > 0)
}

/// Deletes the sessions that expired or ended more than `days` ago; returns how many.
pub async fn prune_sessions(executor: impl PgExecutor<'_>, days: i32) -> Result<u64, sqlx::Error> {
    let pruned = sqlx::query!(
        "DELETE FROM sessions WHERE least(expires_at, coalesce(ended_at, expires_at)) \
         < now() - make_interval(days => $1)",
        days,
    )
    .execute(executor)
    .await?;
    Ok(pruned.rows_affected())
}
