//! Seeding identities: an agency, a principal in it, and a key, through the public API.

use opendata_platform::grpc::ClientContext;
use opendata_proto::common::v1::Role;
use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::identity_service_client::IdentityServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A governance client (acting with an admin key to seed).
pub type IdentityClient = IdentityServiceClient<InterceptedService<Channel, ClientContext>>;

/// What [`principal_with_key`] created.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The principal's id.
    pub principal_id: String,
    /// The key's id.
    pub key_id: String,
    /// The key's secret.
    pub secret: String,
}

/// Creates `agency` if it does not exist, a principal with `role` (bound to the agency when the
/// role is), and issues it a key of `kind`.
pub async fn principal_with_key(
    identity: &mut IdentityClient,
    agency: &str,
    role: Role,
    kind: governance::KeyKind,
) -> Issued {
    let created = identity
        .create_agency(governance::CreateAgencyRequest {
            id: agency.to_owned(),
            name: format!("Agency {agency}"),
        })
        .await;
    if let Err(status) = &created {
        assert_eq!(
            status.code(),
            tonic::Code::AlreadyExists,
            "create agency: {status:?}"
        );
    }
    let bound = matches!(role, Role::Ado | Role::Publisher);
    let principal = identity
        .create_principal(governance::CreatePrincipalRequest {
            name: format!("{agency} {}", role.as_str_name().to_lowercase()),
            role: role as i32,
            agency_id: if bound {
                agency.to_owned()
            } else {
                String::new()
            },
        })
        .await
        .expect("create principal")
        .into_inner();
    let issued = identity
        .issue_key(governance::IssueKeyRequest {
            principal_id: principal.id.clone(),
            label: "tests".to_owned(),
            kind: kind as i32,
        })
        .await
        .expect("issue key")
        .into_inner();
    Issued {
        principal_id: principal.id,
        key_id: issued.key.map(|key| key.id).unwrap_or_default(),
        secret: issued.secret,
    }
}
