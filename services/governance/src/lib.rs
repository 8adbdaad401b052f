//! The governance service. This part owns identity: agencies, principals with roles, API keys and
//! app tokens, and the `Authenticate` RPC every other service relies on. (The review workflow,
//! freshness and audit RPCs of `opendata.governance.v1` come with the governance issue.)

pub mod config;
pub mod error;
pub mod grpc;
pub mod identity;
pub mod keys;

use std::time::Duration;

use opendata_platform::grpc::MAX_MESSAGE_BYTES;
use opendata_platform::shutdown::Shutdown;
use opendata_proto::governance::v1::identity_service_server::IdentityServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use crate::grpc::IdentityApi;
use crate::identity::Identity;

/// The database schema governance owns.
pub const SCHEMA: &str = "governance";

/// Governance's own migrations (the platform's outbox and inbox come first).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the schema and applies the migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    opendata_platform::db::migrate(pool, SCHEMA, &MIGRATOR).await
}

/// Serves governance's gRPC API on `listener` until `shutdown`, then drains for at most `grace`.
pub async fn serve(
    identity: Identity,
    listener: TcpListener,
    shutdown: Shutdown,
    grace: Duration,
) -> Result<(), tonic::transport::Error> {
    let api = IdentityServiceServer::new(IdentityApi::new(identity))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    opendata_platform::grpc::serve(api, listener, shutdown, grace).await
}
