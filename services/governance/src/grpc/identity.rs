//! The gRPC adapter of `IdentityService`: proto in, domain call, proto out.

use opendata_platform::auth::{Principal, Role};
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::timestamp::{to_proto, to_proto_opt};
use opendata_proto::governance::v1 as pb;
use opendata_proto::governance::v1::identity_service_server::IdentityService;
use tonic::{Request, Response, Status};

use crate::identity::{Agency, ApiKey, Identity, KeyKind};

/// Serves `IdentityService` over an [`Identity`] store.
#[derive(Clone)]
pub struct IdentityApi {
    identity: Identity,
}

impl IdentityApi {
    /// The adapter.
    pub fn new(identity: Identity) -> Self {
        IdentityApi { identity }
    }

    async fn caller<T>(&self, request: &Request<T>) -> Result<Principal, ApiError> {
        Ok(super::authenticated(&self.identity, request)
            .await?
            .principal)
    }
}

fn agency_to_proto(agency: Agency) -> pb::Agency {
    pb::Agency {
        id: agency.id,
        name: agency.name,
        created_at: Some(to_proto(agency.created_at)),
    }
}

fn key_kind_to_proto(kind: KeyKind) -> pb::KeyKind {
    match kind {
        KeyKind::ApiKey => pb::KeyKind::ApiKey,
        KeyKind::AppToken => pb::KeyKind::AppToken,
        KeyKind::Session => pb::KeyKind::Session,
    }
}

fn key_to_proto(key: ApiKey) -> pb::ApiKey {
    pb::ApiKey {
        id: key.id.to_string(),
        principal_id: key.principal_id.to_string(),
        prefix: key.prefix,
        kind: key_kind_to_proto(key.kind) as i32,
        label: key.label,
        created_at: Some(to_proto(key.created_at)),
        revoked_at: to_proto_opt(key.revoked_at),
    }
}

/// A principal as protobuf.
pub fn principal_to_proto(principal: &Principal) -> opendata_proto::common::v1::Principal {
    opendata_proto::common::v1::Principal {
        id: principal.id.clone(),
        name: principal.name.clone(),
        role: principal.role.to_proto() as i32,
        agency_id: principal.agency_id.clone().unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn authenticate(
        &self,
        request: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        let key = request.into_inner().key;
        if key.trim().is_empty() {
            return Err(ApiError::new(ErrorCode::Unauthenticated, "no api key given").into());
        }
        let authenticated = self.identity.authenticate(key.trim()).await?;
        Ok(Response::new(pb::AuthenticateResponse {
            principal: Some(principal_to_proto(&authenticated.principal)),
            key_id: authenticated.key_id,
            kind: key_kind_to_proto(authenticated.kind) as i32,
        }))
    }

    async fn create_agency(
        &self,
        request: Request<pb::CreateAgencyRequest>,
    ) -> Result<Response<pb::Agency>, Status> {
        let actor = self.caller(&request).await?;
        let body = request.into_inner();
        let agency = self
            .identity
            .create_agency(&actor, &body.id, &body.name)
            .await?;
        Ok(Response::new(agency_to_proto(agency)))
    }

    async fn list_agencies(
        &self,
        _request: Request<pb::ListAgenciesRequest>,
    ) -> Result<Response<pb::ListAgenciesResponse>, Status> {
        let agencies = self.identity.list_agencies().await?;
        Ok(Response::new(pb::ListAgenciesResponse {
            agencies: agencies.into_iter().map(agency_to_proto).collect(),
        }))
    }

    async fn create_principal(
        &self,
        request: Request<pb::CreatePrincipalRequest>,
    ) -> Result<Response<opendata_proto::common::v1::Principal>, Status> {
        let actor = self.caller(&request).await?;
        let body = request.into_inner();
        let role = Role::from_proto(body.role()).ok_or_else(|| {
            ApiError::invalid_field(
                "role",
                "role is required: cdo, ado, publisher, panel or admin",
            )
        })?;
        let principal = self
            .identity
            .create_principal(&actor, &body.name, role, Some(body.agency_id.as_str()))
            .await?;
        Ok(Response::new(principal_to_proto(&principal)))
    }

    async fn list_principals(
        &self,
        request: Request<pb::ListPrincipalsRequest>,
    ) -> Result<Response<pb::ListPrincipalsResponse>, Status> {
        let actor = self.caller(&request).await?;
        let body = request.into_inner();
        let principals = self
            .identity
            .list_principals(&actor, Some(body.agency_id.as_str()))
            .await?;
        Ok(Response::new(pb::ListPrincipalsResponse {
            principals: principals.iter().map(principal_to_proto).collect(),
        }))
    }

    async fn issue_key(
        &self,
        request: Request<pb::IssueKeyRequest>,
    ) -> Result<Response<pb::IssueKeyResponse>, Status> {
        let actor = self.caller(&request).await?;
        let body = request.into_inner();
        let kind = match body.kind() {
            pb::KeyKind::AppToken => KeyKind::AppToken,
            pb::KeyKind::ApiKey | pb::KeyKind::Unspecified => KeyKind::ApiKey,
            pb::KeyKind::Session => {
                return Err(ApiError::invalid_field(
                    "kind",
                    "sessions are not issued: they are started with StartSession",
                )
                .into());
            }
        };
        let (key, secret) = self
            .identity
            .issue_key(&actor, &body.principal_id, kind, &body.label)
            .await?;
        Ok(Response::new(pb::IssueKeyResponse {
            key: Some(key_to_proto(key)),
            secret,
        }))
    }

    async fn revoke_key(
        &self,
        request: Request<pb::RevokeKeyRequest>,
    ) -> Result<Response<pb::ApiKey>, Status> {
        let actor = self.caller(&request).await?;
        let key = self
            .identity
            .revoke_key(&actor, &request.into_inner().key_id)
            .await?;
        Ok(Response::new(key_to_proto(key)))
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        let actor = self.caller(&request).await?;
        let keys = self
            .identity
            .list_keys(&actor, &request.into_inner().principal_id)
            .await?;
        Ok(Response::new(pb::ListKeysResponse {
            keys: keys.into_iter().map(key_to_proto).collect(),
        }))
    }

    async fn start_session(
        &self,
        request: Request<pb::StartSessionRequest>,
    ) -> Result<Response<pb::StartSessionResponse>, Status> {
        let (_, authenticated) = super::credential(&self.identity, &request).await?;
        let session = self.identity.start_session(&authenticated).await?;
        Ok(Response::new(pb::StartSessionResponse {
            secret: session.secret,
            expires_at: Some(to_proto(session.expires_at)),
            principal: Some(principal_to_proto(&authenticated.principal)),
        }))
    }

    async fn end_session(
        &self,
        request: Request<pb::EndSessionRequest>,
    ) -> Result<Response<pb::EndSessionResponse>, Status> {
        let (_, authenticated) = super::credential(&self.identity, &request).await?;
        self.identity.end_session(&authenticated).await?;
        Ok(Response::new(pb::EndSessionResponse {}))
    }
}
