//! Who is calling: principals and roles as domain types, and the authenticator every service uses
//! to resolve an API key through governance, with a short-lived cache.
//!
//! Cache TTL: [`DEFAULT_AUTH_CACHE_TTL`] (30 s) unless configured. A revoked key keeps working for
//! at most that long on a service that saw it just before revocation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opendata_limits::KEY_BYTES;
use opendata_proto::common::v1 as pb;
use opendata_proto::governance::v1::identity_service_client::IdentityServiceClient;
use opendata_proto::governance::v1::{AuthenticateRequest, KeyKind};
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::{ApiError, ErrorCode};
use crate::grpc::{ClientContext, bearer_key};

/// How long a resolved key is trusted before governance is asked again.
pub const DEFAULT_AUTH_CACHE_TTL: Duration = Duration::from_secs(30);
/// Largest number of cached keys.
const CACHE_CAPACITY: usize = 10_000;

/// A role (what each may do: [`crate::authz`], `docs/authorization.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Chief Data Officer.
    Cdo,
    /// Agency Data Officer, bound to one agency.
    Ado,
    /// Agency staff or automation, bound to one agency.
    Publisher,
    /// Advisory panel: read-only oversight.
    Panel,
    /// State IT.
    Admin,
}

impl Role {
    /// Parses a role name (`cdo`, `ado`, `publisher`, `panel`, `admin`).
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "cdo" => Some(Role::Cdo),
            "ado" => Some(Role::Ado),
            "publisher" => Some(Role::Publisher),
            "panel" => Some(Role::Panel),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cdo => "cdo",
            Role::Ado => "ado",
            Role::Publisher => "publisher",
            Role::Panel => "panel",
            Role::Admin => "admin",
        }
    }

    /// Whether the role is bound to one agency.
    pub fn is_agency_bound(self) -> bool {
        matches!(self, Role::Ado | Role::Publisher)
    }

    /// From the protobuf enum.
    pub fn from_proto(role: pb::Role) -> Option<Role> {
        match role {
            pb::Role::Cdo => Some(Role::Cdo),
            pb::Role::Ado => Some(Role::Ado),
            pb::Role::Publisher => Some(Role::Publisher),
            pb::Role::Panel => Some(Role::Panel),
            pb::Role::Admin => Some(Role::Admin),
            pb::Role::Unspecified => None,
        }
    }

    /// To the protobuf enum.
    pub fn to_proto(self) -> pb::Role {
        match self {
            Role::Cdo => pb::Role::Cdo,
            Role::Ado => pb::Role::Ado,
            Role::Publisher => pb::Role::Publisher,
            Role::Panel => pb::Role::Panel,
            Role::Admin => pb::Role::Admin,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Principal id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Agency for agency-bound roles.
    pub agency_id: Option<String>,
    /// Whether the credential was an app token (identifies an application; no rights).
    pub app_token: bool,
}

impl Principal {
    /// From the protobuf message.
    pub fn from_proto(principal: pb::Principal, kind: KeyKind) -> Result<Principal, ApiError> {
        let role = Role::from_proto(principal.role()).ok_or_else(|| {
            ApiError::new(
                ErrorCode::Internal,
                "governance returned a principal without a role",
            )
        })?;
        Ok(Principal {
            id: principal.id,
            name: principal.name,
            role,
            agency_id: (!principal.agency_id.is_empty()).then_some(principal.agency_id),
            app_token: kind == KeyKind::AppToken,
        })
    }
}

type IdentityClient = IdentityServiceClient<InterceptedService<Channel, ClientContext>>;

/// What a caller with an unknown or revoked key is told.
fn unknown_key() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        "the api key is unknown or revoked",
    )
}

/// Resolves API keys through governance, caching each answer for a short TTL: the principals of
/// good keys, and the refusal of unknown ones (so a flood of made-up keys costs governance one
/// lookup each per TTL, not one per request). Issued keys are random secrets nobody chooses, so a
/// remembered refusal never hides a key issued later (the bootstrap admin key, which an operator
/// chooses, is known to governance from its start).
pub struct Authenticator {
    client: IdentityClient,
    ttl: Duration,
    cache: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    refused: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Authenticator {
    /// An authenticator calling governance over `channel`.
    pub fn new(channel: Channel, ttl: Duration) -> Self {
        Authenticator {
            client: IdentityServiceClient::with_interceptor(channel, ClientContext::anonymous()),
            ttl,
            cache: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// The principal behind `key`; UNAUTHENTICATED when unknown or revoked.
    pub async fn authenticate(&self, key: &str) -> Result<Principal, ApiError> {
        if key.len() > KEY_BYTES.get() {
            return Err(unknown_key());
        }
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        if let Some(principal) = self.cached(&digest) {
            return Ok(principal);
        }
        if self.refused_recently(&digest) {
            return Err(unknown_key());
        }
        let response = self
            .client
            .clone()
            .authenticate(AuthenticateRequest {
                key: key.to_owned(),
            })
            .await
            .map_err(|status| match ApiError::from_status(&status) {
                error if error.code == ErrorCode::Unauthenticated => {
                    self.remember_refusal(digest);
                    error
                }
                error if error.code == ErrorCode::Unavailable => ApiError::new(
                    ErrorCode::Unavailable,
                    "the governance service is unavailable; retry later",
                ),
                error => error,
            })?
            .into_inner();
        let kind = response.kind();
        let principal = response.principal.ok_or_else(|| {
            ApiError::new(ErrorCode::Internal, "governance returned no principal")
        })?;
        let principal = Principal::from_proto(principal, kind)?;
        self.remember(digest, principal.clone());
        Ok(principal)
    }

    /// The caller of a request; UNAUTHENTICATED when the request carries no key.
    pub async fn require(&self, metadata: &MetadataMap) -> Result<Principal, ApiError> {
        match bearer_key(metadata) {
            Some(key) => self.authenticate(key).await,
            None => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "an api key is required: send `authorization: Bearer <key>`",
            )),
        }
    }

    /// The caller of a request, or `None` for anonymous requests.
    pub async fn optional(&self, metadata: &MetadataMap) -> Result<Option<Principal>, ApiError> {
        match bearer_key(metadata) {
            Some(key) => self.authenticate(key).await.map(Some),
            None => Ok(None),
        }
    }

    /// The principal behind `key` if governance vouched for it within the cache period; asks no
    /// one.
    pub fn known(&self, key: &str) -> Option<Principal> {
        self.cached(&Sha256::digest(key.as_bytes()).into())
    }

    fn cached(&self, digest: &[u8; 32]) -> Option<Principal> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(digest)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(principal, _)| principal.clone())
    }

    fn refused_recently(&self, digest: &[u8; 32]) -> bool {
        let refused = self
            .refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        refused
            .get(digest)
            .is_some_and(|at| at.elapsed() < self.ttl)
    }

    fn remember_refusal(&self, digest: [u8; 32]) {
        if self.ttl.is_zero() {
            return;
        }
        let mut refused = self
            .refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if refused.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            refused.retain(|_, at| at.elapsed() < ttl);
            if refused.len() >= CACHE_CAPACITY {
                refused.clear();
            }
        }
        refused.insert(digest, Instant::now());
    }

    fn remember(&self, digest: [u8; 32], principal: Principal) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(digest, (principal, Instant::now()));
    }
}
