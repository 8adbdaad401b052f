//! SQL over agencies, principals and API keys. Functions take an executor so callers choose the
//! transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{Agency, ApiKey, KeyKind, PrincipalRow};

#[derive(sqlx::FromRow)]
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

const KEY_COLUMNS: &str = "id, principal_id, kind, prefix, label, created_at, revoked_at";

/// The live key whose secret hashes to `hash`, with its kind and principal.
pub async fn key_holder(
    executor: impl PgExecutor<'_>,
    hash: &[u8],
) -> Result<Option<(Uuid, KeyKind, PrincipalRow)>, sqlx::Error> {
    let row: Option<(Uuid, String, Uuid, String, String, Option<String>)> = sqlx::query_as(
        "SELECT k.id, k.kind, p.id, p.name, p.role, p.agency_id FROM api_keys k \
         JOIN principals p ON p.id = k.principal_id WHERE k.hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|(key_id, kind, id, name, role, agency_id)| {
        let principal = PrincipalRow {
            id,
            name,
            role,
            agency_id,
        };
        (key_id, KeyKind::parse(&kind), principal)
    }))
}

/// A dataset in the inventory whose id begins with `prefix` (its part before the dash), if any.
pub async fn dataset_with_id_prefix(
    conn: &mut PgConnection,
    prefix: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT dataset_id FROM inventory WHERE split_part(dataset_id, '-', 1) LIKE $1 || '%' LIMIT 1",
    )
    .bind(prefix)
    .fetch_optional(conn)
    .await
}

/// Inserts an agency; `None` when its id is taken.
pub async fn insert_agency(
    conn: &mut PgConnection,
    id: &str,
    name: &str,
) -> Result<Option<Agency>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO agencies (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING \
         RETURNING id, name, created_at",
    )
    .bind(id)
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// Every agency, by id.
pub async fn agencies(executor: impl PgExecutor<'_>) -> Result<Vec<Agency>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM agencies ORDER BY id")
        .fetch_all(executor)
        .await
}

/// Whether agency `id` exists.
pub async fn agency_exists(conn: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agencies WHERE id = $1)")
        .bind(id)
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
    sqlx::query("INSERT INTO principals (id, name, role, agency_id) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(agency_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Principals of one agency (or all), by name.
pub async fn principals(
    executor: impl PgExecutor<'_>,
    agency_id: Option<&str>,
) -> Result<Vec<PrincipalRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, role, agency_id FROM principals \
         WHERE $1::text IS NULL OR agency_id = $1 ORDER BY name, id",
    )
    .bind(agency_id)
    .fetch_all(executor)
    .await
}

/// Whether principal `id` exists.
pub async fn principal_exists(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM principals WHERE id = $1)")
        .bind(id)
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
    let row: KeyRow = sqlx::query_as(&format!(
        "INSERT INTO api_keys (id, principal_id, kind, prefix, hash, label) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(key.principal_id)
    .bind(key.kind.as_str())
    .bind(key.prefix)
    .bind(key.hash)
    .bind(key.label)
    .fetch_one(conn)
    .await?;
    Ok(row.into())
}

/// Revokes key `id` (keeping an earlier revocation's time); `None` when there is no such key.
pub async fn revoke_key(conn: &mut PgConnection, id: Uuid) -> Result<Option<ApiKey>, sqlx::Error> {
    let row: Option<KeyRow> = sqlx::query_as(&format!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 \
         RETURNING {KEY_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ApiKey::from))
}

/// A principal's keys, newest first.
pub async fn keys_of(
    executor: impl PgExecutor<'_>,
    principal_id: Uuid,
) -> Result<Vec<ApiKey>, sqlx::Error> {
    let rows: Vec<KeyRow> = sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE principal_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(principal_id)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}
