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

/// The caller of `request` and the key they presented.
pub async fn caller<T>(
    identity: &Identity,
    request: &Request<T>,
) -> Result<(Principal, String), ApiError> {
    let key = bearer_key(request.metadata()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "an api key is required: send `authorization: Bearer <key>`",
        )
    })?;
    let principal = identity.authenticate(key).await?.principal;
    Ok((principal, key.to_owned()))
}
