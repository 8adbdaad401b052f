//! Identity: agencies, principals with one role, API keys and app tokens, authentication, and the
//! audit entries of every change. Administration needs the `admin` role; reading the directory is
//! also open to the CDO and the panel, and to an ADO for its own agency.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opendata_platform::auth::{Principal, Role};
use opendata_platform::authz::Action;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit;
use crate::error::{GovernanceError, required, within};
use crate::keys;
use crate::sessions;
use opendata_limits::TEXT_NAME;

/// Id of the bootstrap administrator (the configured break-glass key).
pub const BOOTSTRAP_PRINCIPAL_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Acts with the principal's role.
    ApiKey,
    /// Identifies an application; no rights.
    AppToken,
    /// A web session started with an API key (see [`crate::sessions`]).
    Session,
}

impl KeyKind {
    fn as_str(self) -> &'static str {
        match self {
            KeyKind::ApiKey => "api_key",
            KeyKind::AppToken => "app_token",
            KeyKind::Session => "session",
        }
    }

    fn parse(text: &str) -> KeyKind {
        if text == "app_token" {
            KeyKind::AppToken
        } else {
            KeyKind::ApiKey
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Agency {
    /// Short id.
    pub id: String,
    /// Full name.
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Key id.
    pub id: Uuid,
    /// Owner.
    pub principal_id: Uuid,
    pub kind: KeyKind,
    /// Recognisable beginning of the secret.
    pub prefix: String,
    /// Note.
    pub label: String,
    /// Issued at.
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

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

/// A principal as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct PrincipalRow {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) agency_id: Option<String>,
}

impl PrincipalRow {
    /// The authentication of this principal by key (or session) `key_id` of `kind`.
    pub(crate) fn authenticated(self, key_id: Uuid, kind: KeyKind) -> Authenticated {
        Authenticated {
            principal: self.into_principal(kind == KeyKind::AppToken),
            key_id: key_id.to_string(),
            kind,
        }
    }

    pub(crate) fn into_principal(self, app_token: bool) -> Principal {
        Principal {
            id: self.id.to_string(),
            name: self.name,
            // The column's CHECK constraint admits only known roles.
            role: Role::parse(&self.role).unwrap_or(Role::Panel),
            agency_id: self.agency_id,
            app_token,
        }
    }
}

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// Who.
    pub principal: Principal,
    /// Which key.
    pub key_id: String,
    /// Which kind of key.
    pub kind: KeyKind,
}

/// The identity store.
#[derive(Clone)]
pub struct Identity {
    pool: PgPool,
    bootstrap_hash: Option<Vec<u8>>,
    session_lifetime: Duration,
}

impl Identity {
    /// Identity over `pool`; `bootstrap_key` authenticates as an admin when set; web sessions
    /// last `session_lifetime`.
    pub fn new(pool: PgPool, bootstrap_key: Option<&str>, session_lifetime: Duration) -> Self {
        Identity {
            pool,
            bootstrap_hash: bootstrap_key.filter(|key| !key.is_empty()).map(keys::hash),
            session_lifetime,
        }
    }

    /// Starts a web session for a caller authenticated by an API key.
    pub async fn start_session(
        &self,
        caller: &Authenticated,
    ) -> Result<sessions::Session, GovernanceError> {
        sessions::start(&self.pool, caller, self.session_lifetime).await
    }

    /// Ends the caller's session.
    pub async fn end_session(&self, caller: &Authenticated) -> Result<(), GovernanceError> {
        sessions::end(&self.pool, caller).await
    }

    /// Resolves a key, app token or session secret to its principal.
    pub async fn authenticate(&self, key: &str) -> Result<Authenticated, GovernanceError> {
        if key.starts_with(keys::SESSION_PREFIX) {
            return sessions::authenticate(&self.pool, key).await;
        }
        let hash = keys::hash(key);
        if self.bootstrap_hash.as_deref() == Some(hash.as_slice()) {
            return Ok(Authenticated {
                principal: Principal {
                    id: BOOTSTRAP_PRINCIPAL_ID.to_owned(),
                    name: "Bootstrap administrator".to_owned(),
                    role: Role::Admin,
                    agency_id: None,
                    app_token: false,
                },
                key_id: "bootstrap".to_owned(),
                kind: KeyKind::ApiKey,
            });
        }
        let row: Option<(Uuid, String, Uuid, String, String, Option<String>)> = sqlx::query_as(
            "SELECT k.id, k.kind, p.id, p.name, p.role, p.agency_id FROM api_keys k \
             JOIN principals p ON p.id = k.principal_id WHERE k.hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let (key_id, kind, id, name, role, agency_id) =
            row.ok_or(GovernanceError::Unauthenticated)?;
        let principal = PrincipalRow {
            id,
            name,
            role,
            agency_id,
        };
        Ok(principal.authenticated(key_id, KeyKind::parse(&kind)))
    }

    /// Creates an agency.
    pub async fn create_agency(
        &self,
        actor: &Principal,
        id: &str,
        name: &str,
    ) -> Result<Agency, GovernanceError> {
        actor
            .authorize(Action::ManageAgencies, None)
            .map_err(GovernanceError::Denied)?;
        let id = id.trim();
        if id.len() < 2
            || id.len() > 32
            || !id.starts_with(|c: char| c.is_ascii_lowercase())
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(GovernanceError::invalid(
                "id",
                "agency id must be 2 to 32 lowercase letters, digits or hyphens, starting with a letter",
            ));
        }
        let name = required("name", name, TEXT_NAME)?;
        let mut tx = self.pool.begin().await?;
        // The dataset ids beginning with an agency's id are its own to choose (see the catalog's
        // `dataset_ids`): a new agency must not find datasets of others among them.
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT dataset_id FROM inventory WHERE split_part(dataset_id, '-', 1) LIKE $1 || '%' LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(dataset) = taken {
            return Err(GovernanceError::invalid(
                "id",
                format!(
                    "dataset {dataset} already has an id beginning with `{id}`, and the ids beginning with an agency's id are the agency's own; choose another agency id"
                ),
            ));
        }
        let agency: Agency = sqlx::query_as(
            "INSERT INTO agencies (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id, name, created_at",
        )
        .bind(id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| GovernanceError::AgencyAlreadyExists(id.to_owned()))?;
        audit::record(
            &mut tx,
            &actor.id,
            "agency.created",
            &format!("agency:{id}"),
            "",
            json!({"name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(agency)
    }

    /// Every agency, by id. Public information.
    pub async fn list_agencies(&self) -> Result<Vec<Agency>, GovernanceError> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at FROM agencies ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Creates a principal.
    pub async fn create_principal(
        &self,
        actor: &Principal,
        name: &str,
        role: Role,
        agency_id: Option<&str>,
    ) -> Result<Principal, GovernanceError> {
        actor
            .authorize(Action::ManagePrincipals, None)
            .map_err(GovernanceError::Denied)?;
        let name = required("name", name, TEXT_NAME)?;
        let agency_id = agency_id
            .map(|agency| within("agency_id", agency, TEXT_NAME))
            .transpose()?
            .filter(|a| !a.is_empty());
        match (role.is_agency_bound(), agency_id) {
            (true, None) => {
                return Err(GovernanceError::invalid(
                    "agency_id",
                    format!(
                        "role {} is bound to one agency: give agency_id",
                        role.as_str()
                    ),
                ));
            }
            (false, Some(_)) => {
                return Err(GovernanceError::invalid(
                    "agency_id",
                    format!("role {} is global: leave agency_id empty", role.as_str()),
                ));
            }
            _ => {}
        }
        let mut tx = self.pool.begin().await?;
        if let Some(agency) = agency_id {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agencies WHERE id = $1)")
                    .bind(agency)
                    .fetch_one(&mut *tx)
                    .await?;
            if !exists {
                return Err(GovernanceError::AgencyNotFound(agency.to_owned()));
            }
        }
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO principals (id, name, role, agency_id) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(name)
            .bind(role.as_str())
            .bind(agency_id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &actor.id,
            "principal.created",
            &format!("principal:{id}"),
            "",
            json!({"name": name, "role": role.as_str(), "agency_id": agency_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(Principal {
            id: id.to_string(),
            name: name.to_owned(),
            role,
            agency_id: agency_id.map(str::to_owned),
            app_token: false,
        })
    }

    /// Principals, optionally of one agency.
    pub async fn list_principals(
        &self,
        actor: &Principal,
        agency_id: Option<&str>,
    ) -> Result<Vec<Principal>, GovernanceError> {
        let agency_id = agency_id
            .map(|agency| within("agency_id", agency, TEXT_NAME))
            .transpose()?
            .filter(|a| !a.is_empty());
        actor
            .authorize(Action::ReadPrincipals, agency_id)
            .map_err(GovernanceError::Denied)?;
        let rows: Vec<PrincipalRow> = sqlx::query_as(
            "SELECT id, name, role, agency_id FROM principals WHERE $1::text IS NULL OR agency_id = $1 ORDER BY name, id",
        )
        .bind(agency_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| row.into_principal(false))
            .collect())
    }

    /// Issues a key; returns its record and the secret, which is not stored.
    pub async fn issue_key(
        &self,
        actor: &Principal,
        principal_id: &str,
        kind: KeyKind,
        label: &str,
    ) -> Result<(ApiKey, String), GovernanceError> {
        actor
            .authorize(Action::ManageKeys, None)
            .map_err(GovernanceError::Denied)?;
        let principal_id = parse_uuid("principal_id", principal_id)?;
        let mut tx = self.pool.begin().await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM principals WHERE id = $1)")
                .bind(principal_id)
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            return Err(GovernanceError::PrincipalNotFound(principal_id.to_string()));
        }
        let secret = keys::generate(kind);
        let row: KeyRow = sqlx::query_as(
            "INSERT INTO api_keys (id, principal_id, kind, prefix, hash, label) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, principal_id, kind, prefix, label, created_at, revoked_at",
        )
        .bind(Uuid::now_v7())
        .bind(principal_id)
        .bind(kind.as_str())
        .bind(&secret.prefix)
        .bind(&secret.hash)
        .bind(within("label", label, TEXT_NAME)?)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &actor.id,
            "key.issued",
            &format!("key:{}", row.id),
            "",
            json!({"principal_id": principal_id, "kind": kind.as_str(), "label": label.trim()}),
        )
        .await?;
        tx.commit().await?;
        Ok((row.into(), secret.secret))
    }

    /// Revokes a key. Revoking twice is harmless and keeps the first revocation time.
    pub async fn revoke_key(
        &self,
        actor: &Principal,
        key_id: &str,
    ) -> Result<ApiKey, GovernanceError> {
        actor
            .authorize(Action::ManageKeys, None)
            .map_err(GovernanceError::Denied)?;
        let key_id = parse_uuid("key_id", key_id)?;
        let mut tx = self.pool.begin().await?;
        let row: KeyRow = sqlx::query_as(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 \
             RETURNING id, principal_id, kind, prefix, label, created_at, revoked_at",
        )
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| GovernanceError::KeyNotFound(key_id.to_string()))?;
        audit::record(
            &mut tx,
            &actor.id,
            "key.revoked",
            &format!("key:{key_id}"),
            "",
            json!({"principal_id": row.principal_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// A principal's keys, newest first.
    pub async fn list_keys(
        &self,
        actor: &Principal,
        principal_id: &str,
    ) -> Result<Vec<ApiKey>, GovernanceError> {
        let principal_id = parse_uuid("principal_id", principal_id)?;
        if actor.id != principal_id.to_string() {
            actor
                .authorize(Action::ManageKeys, None)
                .map_err(GovernanceError::Denied)?;
        }
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, principal_id, kind, prefix, label, created_at, revoked_at FROM api_keys \
             WHERE principal_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(principal_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }
}

fn parse_uuid(field: &'static str, value: &str) -> Result<Uuid, GovernanceError> {
    Uuid::parse_str(value.trim())
        .map_err(|_| GovernanceError::invalid(field, format!("{field} is not a valid id")))
}
