//! The gRPC adapters of governance's services: identity, the review workflow, freshness and the
//! audit log. Each authenticates the caller against the identity store directly (no cache: a
//! revoked key stops working here at once), converts, calls the domain, converts back.

pub mod identity;
pub mod oversight;
pub mod review;

use opendata_platform::auth::Principal;
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::grpc::bearer_key;
use tonic::Request;

use crate::identity::Identity;
use crate::review::Caller;

/// An authenticated caller who owns their key.
pub struct Authenticated {
    pub principal: Principal,
    /// The key they presented.
    pub key: String,
}

impl Authenticated {
    /// The caller as the review domain takes it.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            principal: &self.principal,
            key: &self.key,
        }
    }
}

/// The caller of `request`, authenticated by the key it presents.
pub async fn authenticated<T>(
    identity: &Identity,
    request: &Request<T>,
) -> Result<Authenticated, ApiError> {
    let (key, authenticated) = credential(identity, request).await?;
    Ok(Authenticated {
        principal: authenticated.principal,
        key: key.to_owned(),
    })
}

/// The caller of `request` when it presents a key (which must be valid), `None` for the public.
pub async fn optional<T>(
    identity: &Identity,
    request: &Request<T>,
) -> Result<Option<Principal>, ApiError> {
    match bearer_key(request.metadata()) {
        Some(_) => Ok(Some(authenticated(identity, request).await?.principal)),
        None => Ok(None),
    }
}

/// The key `request` presents and what it authenticates as (with which kind of key).
pub async fn credential<'a, T>(
    identity: &Identity,
    request: &'a Request<T>,
) -> Result<(&'a str, crate::identity::Authenticated), ApiError> {
    let key = bearer_key(request.metadata()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "an api key is required: send `authorization: Bearer <key>`",
        )
    })?;
    Ok((key, identity.authenticate(key).await?))
}
