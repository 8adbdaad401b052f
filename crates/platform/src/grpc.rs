//! gRPC plumbing shared by every service: the server-side trace layer, the client-side interceptor
//! that carries trace context and credentials, and serving (with TLS when configured) on a bound
//! listener with a bounded drain. Channels to other services are in [`crate::channels`].

use std::convert::Infallible;
use std::time::Duration;

use opendata_limits::{GRPC_HEADER_BYTES, GRPC_STREAMS_PER_CONNECTION, KEY_BYTES};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::server::NamedService;
use tonic::service::Interceptor;
use tonic::transport::{Identity, ServerTlsConfig};
use tower_http::classify::{GrpcErrorsAsFailures, SharedClassifier};
use tower_http::trace::{
    DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, DefaultOnResponse, TraceLayer,
};

use crate::config::{ConfigError, TlsConfig};
use crate::error::{ApiError, ErrorCode};
use crate::metrics::RpcMetricsLayer;
use crate::shutdown::drain;
use crate::tasks::{TaskFailed, Tasks};
use crate::telemetry::{self, HeaderCarrier, HeaderReader};

/// Largest gRPC message any service accepts or sends (upload chunks, query chunks, listings).
pub const MAX_MESSAGE_BYTES: usize = opendata_limits::GRPC_MESSAGE_BYTES.get();

/// How long a TLS handshake may take, on either side: a peer that stalls it holds nothing longer.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a gRPC server runs besides its services: how long it drains after shutdown, and whether
/// it speaks TLS.
#[derive(Debug, Clone, Default)]
pub struct Serving {
    /// How long in-flight calls get after shutdown.
    pub grace: Duration,
    tls: Option<ServerTlsConfig>,
}

impl Serving {
    /// Plaintext, draining for `grace`.
    pub fn plaintext(grace: Duration) -> Self {
        Serving { grace, tls: None }
    }

    /// TLS with the certificate and key `tls` names, when it names them. The files are read and
    /// checked now, so a wrong one stops start-up with its name rather than the first handshake.
    pub fn new(grace: Duration, tls: &TlsConfig) -> Result<Self, ConfigError> {
        let (cert_file, key_file) = match (&tls.cert_file, &tls.key_file) {
            (None, None) => return Ok(Serving::plaintext(grace)),
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "tls.key_file",
                    "tls.cert_file is set: set the private key too",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "tls.cert_file",
                    "tls.key_file is set: set the certificate too",
                ));
            }
        };
        let read = |key: &str, path: &std::path::Path| {
            std::fs::read(path).map_err(|error| {
                ConfigError::invalid(key, format!("cannot read {}: {error}", path.display()))
            })
        };
        let identity = Identity::from_pem(
            read("tls.cert_file", cert_file)?,
            read("tls.key_file", key_file)?,
        );
        let serving = Serving {
            grace,
            tls: Some(
                ServerTlsConfig::new()
                    .identity(identity)
                    .timeout(TLS_HANDSHAKE_TIMEOUT),
            ),
        };
        serving.builder().map_err(|error| {
            ConfigError::invalid(
                "tls.cert_file",
                format!(
                    "{} and {} are not a PEM certificate chain and its private key: {error:?}",
                    cert_file.display(),
                    key_file.display()
                ),
            )
        })?;
        Ok(serving)
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The server builder with every setting but the services. Pings find peers that vanished
    /// without closing; they are how a server learns of half-open connections that would
    /// otherwise stay forever. One connection carries a bounded number of calls, each with
    /// bounded metadata.
    fn builder(&self) -> Result<tonic::transport::Server, tonic::transport::Error> {
        let server = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .max_concurrent_streams(GRPC_STREAMS_PER_CONNECTION.value as u32)
            .http2_max_header_list_size(GRPC_HEADER_BYTES.value as u32);
        match &self.tls {
            Some(tls) => server.tls_config(tls.clone()),
            None => Ok(server),
        }
    }
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

/// The key of an `Authorization: Basic <base64 of user:password>` value: the password, or the
/// user name when the password is empty (Socrata's clients send a key as either); `None` when the
/// value is not Basic, not base64 of UTF-8, or carries no key.
pub fn basic_credential(authorization: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, encoded) = authorization.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    let key = if password.is_empty() { user } else { password };
    (!key.is_empty()).then(|| key.to_owned())
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
/// shutdown; then drains in-flight calls for at most `serving.grace`.
pub async fn serve<S>(
    service: S,
    listener: tokio::net::TcpListener,
    tasks: Tasks,
    serving: Serving,
) -> Result<(), ServeError>
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
        serving,
    )
    .await
}

/// Why a gRPC server stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// One of its tasks failed.
    #[error(transparent)]
    Task(#[from] TaskFailed),
    /// The server could not be set up (its TLS configuration).
    #[error("the gRPC server could not start: {0}")]
    Setup(#[from] tonic::transport::Error),
}

/// Serves several gRPC services (`routes`, whose names are `names`) on one listener, like
/// [`serve`].
pub async fn serve_routes(
    routes: tonic::service::Routes,
    names: &[&'static str],
    listener: tokio::net::TcpListener,
    tasks: Tasks,
    serving: Serving,
) -> Result<(), ServeError> {
    let health = tasks.health();
    let shutdown = tasks.shutdown();
    let grace = serving.grace;
    let server = serving
        .builder()?
        .layer(trace_layer())
        .layer(RpcMetricsLayer)
        .add_routes(routes.add_service(health.grpc_service()));
    health.serving(names).await;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = server.serve_with_incoming_shutdown(incoming, shutdown.triggered());
    tasks
        .run(async move { drain(server, &shutdown, grace).await }, grace)
        .await?;
    Ok(())
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
