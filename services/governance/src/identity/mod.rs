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

pub mod sessions;
mod store;

use crate::audit;
use crate::error::{GovernanceError, required, within};
use crate::keys;
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyKind::ApiKey => "api_key",
            KeyKind::AppToken => "app_token",
            KeyKind::Session => "session",
        }
    }

    pub(crate) fn parse(text: &str) -> KeyKind {
        if text == "app_token" {
            KeyKind::AppToken
        } else {
            KeyKind::ApiKey
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A principal as stored.
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
        let (key_id, kind, principal) = store::key_holder(&self.pool, &hash)
            .await?
            .ok_or(GovernanceError::Unauthenticated)?;
        Ok(principal.authenticated(key_id, kind))
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
        if let Some(dataset) = store::dataset_with_id_prefix(&mut tx, id).await? {
            return Err(GovernanceError::invalid(
                "id",
                format!(
                    "dataset {dataset} already has an id beginning with `{id}`, and the ids beginning with an agency's id are the agency's own; choose another agency id"
                ),
            ));
        }
        let agency = store::insert_agency(&mut tx, id, name)
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
        Ok(store::agencies(&self.pool).await?)
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
        if let Some(agency) = agency_id
            && !store::agency_exists(&mut tx, agency).await?
        {
            return Err(GovernanceError::AgencyNotFound(agency.to_owned()));
        }
        let id = Uuid::now_v7();
        store::insert_principal(&mut tx, id, name, role.as_str(), agency_id).await?;
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
        Ok(store::principals(&self.pool, agency_id)
            .await?
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
        if !store::principal_exists(&mut tx, principal_id).await? {
            return Err(GovernanceError::PrincipalNotFound(principal_id.to_string()));
        }
        let secret = keys::generate(kind);
        let key = store::insert_key(
            &mut tx,
            &store::NewKey {
                principal_id,
                kind,
                prefix: &secret.prefix,
                hash: &secret.hash,
                label: within("label", label, TEXT_NAME)?,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            &actor.id,
            "key.issued",
            &format!("key:{}", key.id),
            "",
            json!({"principal_id": principal_id, "kind": kind.as_str(), "label": label.trim()}),
        )
        .await?;
        tx.commit().await?;
        Ok((key, secret.secret))
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
        let key = store::revoke_key(&mut tx, key_id)
            .await?
            .ok_or_else(|| GovernanceError::KeyNotFound(key_id.to_string()))?;
        audit::record(
            &mut tx,
            &actor.id,
            "key.revoked",
            &format!("key:{key_id}"),
            "",
            json!({"principal_id": key.principal_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(key)
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
        Ok(store::keys_of(&self.pool, principal_id).await?)
    }
}

fn parse_uuid(field: &'static str, value: &str) -> Result<Uuid, GovernanceError> {
    Uuid::parse_str(value.trim())
        .map_err(|_| GovernanceError::invalid(field, format!("{field} is not a valid id")))
}
