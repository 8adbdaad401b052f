//! Web sessions of the staff pages. A session is started with an API key and acts as the key's
//! principal until it is ended (sign-out), expires, or the key is revoked; it cannot start another
//! session, and administrators (who could mint keys) cannot start one, so a stolen session cannot
//! outlive its expiry. Services that cache authentications (`auth_cache_ttl_secs`, 30 s) may
//! accept an ended session for that long; governance itself never does. Its secret (`ods_...`) is
//! shown once and stored only as a hash, like a key's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use opendata_platform::auth::Role;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::store;
use super::{Authenticated, KeyKind};
use crate::audit;
use crate::error::GovernanceError;
use crate::keys;

/// Days an expired or ended session is kept before it is deleted (its start and end stay in the
/// audit log).
const KEPT_DAYS: i32 = 30;

/// A started session.
#[derive(Debug)]
pub struct Session {
    /// The secret, to give the browser once.
    pub secret: String,
    /// When it ends by itself.
    pub expires_at: DateTime<Utc>,
}

/// Starts a session for a caller authenticated by an API key.
pub async fn start(
    pool: &PgPool,
    caller: &Authenticated,
    lifetime: Duration,
) -> Result<Session, GovernanceError> {
    if caller.kind != KeyKind::ApiKey {
        return Err(GovernanceError::invalid(
            "key",
            "a session is started with an API key, not with an app token or another session",
        ));
    }
    if caller.principal.role == Role::Admin {
        return Err(GovernanceError::invalid(
            "key",
            "administrators work with their API key, not a web session: identity changes are \
             not made from the staff pages",
        ));
    }
    let key_id = Uuid::parse_str(&caller.key_id).map_err(|_| {
        GovernanceError::invalid(
            "key",
            "the bootstrap key cannot start a session: issue an API key",
        )
    })?;
    let secret = keys::generate(KeyKind::Session);
    let session_id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    let expires_at = store::insert_session(
        &mut tx,
        session_id,
        key_id,
        &secret.hash,
        lifetime.as_secs_f64(),
    )
    .await?;
    audit::record(
        &mut tx,
        &caller.principal.id,
        "session.started",
        &format!("session:{session_id}"),
        "",
        json!({"key_id": key_id, "expires_at": expires_at}),
    )
    .await?;
    tx.commit().await?;
    Ok(Session {
        secret: secret.secret,
        expires_at,
    })
}

/// The principal of a live session's secret: not ended, not expired, and its key not revoked.
pub async fn authenticate(pool: &PgPool, secret: &str) -> Result<Authenticated, GovernanceError> {
    let (session_id, principal) = store::session_holder(pool, &keys::hash(secret))
        .await?
        .ok_or(GovernanceError::Unauthenticated)?;
    Ok(principal.authenticated(session_id, KeyKind::Session))
}

/// Ends the session whose secret the caller presented. Ending it again changes nothing.
pub async fn end(pool: &PgPool, caller: &Authenticated) -> Result<(), GovernanceError> {
    if caller.kind != KeyKind::Session {
        return Err(GovernanceError::invalid(
            "key",
            "only a session can be ended: present the session's secret",
        ));
    }
    let session_id = Uuid::parse_str(&caller.key_id)
        .map_err(|_| GovernanceError::Internal("a session id is not a UUID".to_owned()))?;
    let mut tx = pool.begin().await?;
    if store::end_session(&mut tx, session_id).await? {
        audit::record(
            &mut tx,
            &caller.principal.id,
            "session.ended",
            &format!("session:{session_id}"),
            "",
            json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes the sessions that expired or ended more than [`KEPT_DAYS`] ago; returns how many.
pub async fn prune(pool: &PgPool) -> Result<u64, sqlx::Error> {
    store::prune_sessions(pool, KEPT_DAYS).await
}
