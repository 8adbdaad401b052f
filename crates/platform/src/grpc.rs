//! gRPC plumbing shared by every service: channels to other services, the server-side trace layer,
//! the client-side interceptor that carries trace context and credentials, and serving on a bound
//! listener with a bounded drain.

use std::convert::Infallible;
use std::time::Duration;

use opendata_limits::{GRPC_HEADER_BYTES, GRPC_STREAMS_PER_CONNECTION, KEY_BYTES};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::server::NamedService;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};
use tower_http::classify::{GrpcErrorsAsFailures, SharedClassifier};
use tower_http::trace::{
    DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, DefaultOnResponse, TraceLayer,
};

use crate::config::ConfigError;
use crate::error::{ApiError, ErrorCode};
use crate::shutdown::drain;
use crate::tasks::{TaskFailed, Tasks};
use crate::telemetry::{self, HeaderCarrier, HeaderReader};

/// Largest gRPC message any service accepts or sends (upload chunks, query chunks, listings).
pub const MAX_MESSAGE_BYTES: usize = opendata_limits::GRPC_MESSAGE_BYTES.get();

/// A lazily connecting channel to another service.
pub fn channel(url: &str) -> Result<Channel, ConfigError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|error| ConfigError::invalid(url, error))?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

/// Client interceptor: adds the current trace context and, when set, the caller's key.
#[derive(Clone, Default)]
pub struct ClientContext {
    authorization: Option<AsciiMetadataValue>,
}

impl ClientContext {
    /// Calls without credentials.
    pub fn anonymous() -> Self {
        ClientContext::default()
    }

    /// Calls with `authorization: Bearer <key>`.
    pub fn with_key(key: &str) -> Result<Self, ApiError> {
        if key.len() > KEY_BYTES.get() {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "the api key is longer than any key",
            )
            .with("limit", KEY_BYTES.name));
        }
        let value = format!("Bearer {key}").parse().map_err(|_| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "the api key has characters a key never has",
            )
        })?;
        Ok(ClientContext {
            authorization: Some(value),
        })
    }
}

impl Interceptor for ClientContext {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        telemetry::inject_current(&mut HeaderCarrier(request.metadata_mut().as_mut()));
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        Ok(request)
    }
}

/// The bearer key of a request, if it carries one.
pub fn bearer_key(metadata: &MetadataMap) -> Option<&str> {
    bearer_credential(metadata.get("authorization")?.to_str().ok()?)
}

/// The credential of an `Authorization: Bearer <credential>` value; the scheme's case does not
/// matter (RFC 9110 §11.1), so gRPC and HTTP callers are read alike.
pub fn bearer_credential(authorization: &str) -> Option<&str> {
    let (scheme, credential) = authorization.trim_start().split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

type MakeSpan = fn(&http::Request<tonic::body::Body>) -> tracing::Span;

/// Server layer: one span per RPC, child of the caller's trace context.
pub type GrpcTraceLayer = TraceLayer<
    SharedClassifier<GrpcErrorsAsFailures>,
    MakeSpan,
    DefaultOnRequest,
    DefaultOnResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    (),
>;

/// The trace layer every gRPC server installs.
pub fn trace_layer() -> GrpcTraceLayer {
    TraceLayer::new_for_grpc()
        .make_span_with(rpc_span as MakeSpan)
        .on_failure(())
}

fn rpc_span(request: &http::Request<tonic::body::Body>) -> tracing::Span {
    let span = tracing::info_span!("rpc", path = %request.uri().path());
    telemetry::set_remote_parent(&span, &HeaderReader(request.headers()));
    span
}

/// Serves one gRPC service, with the standard health service and the trace layer, on an
/// already-bound listener, supervising `tasks` alongside (see [`Tasks::run`]) until their
/// shutdown; then drains in-flight calls for at most `grace`.
pub async fn serve<S>(
    service: S,
    listener: tokio::net::TcpListener,
    tasks: Tasks,
    grace: Duration,
) -> Result<(), TaskFailed>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    serve_routes(
        tonic::service::Routes::new(service),
        &[S::NAME],
        listener,
        tasks,
        grace,
    )
    .await
}

/// Serves several gRPC services (`routes`, whose names are `names`) on one listener, like
/// [`serve`].
pub async fn serve_routes(
    routes: tonic::service::Routes,
    names: &[&'static str],
    listener: tokio::net::TcpListener,
    tasks: Tasks,
    grace: Duration,
) -> Result<(), TaskFailed> {
    let health = tasks.health();
    health.serving(names).await;
    let shutdown = tasks.shutdown();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    // Pings find peers that vanished without closing; they are how a server learns of half-open
    // connections that would otherwise stay forever. One connection carries a bounded number of
    // calls, each with bounded metadata.
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .max_concurrent_streams(GRPC_STREAMS_PER_CONNECTION.value as u32)
        .http2_max_header_list_size(GRPC_HEADER_BYTES.value as u32)
        .layer(trace_layer())
        .add_routes(routes.add_service(health.grpc_service()))
        .serve_with_incoming_shutdown(incoming, shutdown.triggered());
    tasks
        .run(async move { drain(server, &shutdown, grace).await }, grace)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_keys_are_read_from_authorization() {
        let mut metadata = MetadataMap::new();
        assert_eq!(bearer_key(&metadata), None);
        metadata.insert("authorization", "Bearer odk_abc".parse().unwrap());
        assert_eq!(bearer_key(&metadata), Some("odk_abc"));
        metadata.insert("authorization", "Basic xyz".parse().unwrap());
        assert_eq!(bearer_key(&metadata), None);
        assert_eq!(bearer_credential("bearer odk_abc"), Some("odk_abc"));
        assert_eq!(bearer_credential("BEARER  odk_abc "), Some("odk_abc"));
        assert_eq!(bearer_credential("Bearer "), None);
        assert_eq!(bearer_credential("Bearerodk_abc"), None);
    }
}
