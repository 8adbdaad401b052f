//! Prometheus metrics: one registry per process (`opendata up` holds every service; each
//! `opendata serve` one), exposed in the OpenMetrics text format on its own listener
//! (`metrics_listen`), never on the public port.
//!
//! Counters and histograms are updated where things happen (RPCs, HTTP requests, rows ingested
//! and streamed). Gauges of state kept elsewhere (connection pools, outbox backlog, consumer lag,
//! index size) are read at scrape time by [`Probe`]s, which services register for as long as
//! they run. Every label takes a bounded set of values: routes and RPC methods as the servers
//! know them, never what a caller sent.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::Full;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::shutdown::Shutdown;

/// How long one probe may take at a scrape; a stuck one leaves its gauges as they were.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections the metrics listener serves at once; more wait to be accepted.
const SCRAPE_CONNECTIONS: usize = opendata_limits::SCRAPE_CONNECTIONS.value as usize;
/// How long one rendering is reused: scrapes in a flood run the probes once a second at most.
const RENDER_REUSED: Duration = Duration::from_secs(1);

/// Labels of one gRPC method's calls.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// `/package.Service/Method`, or `other` for paths no service declares.
    pub method: String,
    /// The gRPC status name (`OK`, `NOT_FOUND`, ...).
    pub code: &'static str,
}

/// Labels of one gRPC method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// `/package.Service/Method`, or `other`.
    pub method: String,
}

/// Labels of one HTTP route's requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route as the router declares it (`/resource/{id}`), or `unmatched`.
    pub route: String,
    /// The request method.
    pub method: &'static str,
    /// The response status class (`2xx`, `4xx`, ...).
    pub status: &'static str,
}

/// Labels of one HTTP route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route as the router declares it, or `unmatched`.
    pub route: String,
}

/// Labels of one connection pool.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// The service (`catalog`, ...).
    pub service: &'static str,
    /// The pool (`main`, `queries`, ...).
    pub pool: &'static str,
    /// `used`, `idle` or `max`.
    pub state: &'static str,
}

/// Labels of one service.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// The service.
    pub service: &'static str,
}

/// Labels of one scheduled task of a service.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// The service.
    pub service: &'static str,
    /// The task (governance's `jobs`, ingestion's `janitor`, incentives' `award dataset sync`, the
    /// edge's `rate limit pruning`, every service's `outbox relay`).
    pub task: &'static str,
}

/// Labels of one JetStream consumer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    /// The stream it reads.
    pub stream: String,
    /// The durable consumer.
    pub consumer: String,
}

/// Labels of the search index.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EngineLabels {
    /// `embedded` (tantivy) or `meilisearch`.
    pub engine: &'static str,
}

/// A gauge holding seconds.
pub type Seconds = Gauge<f64, AtomicU64>;

/// Seconds from `unix_nanos` (a publication time, say) until now; 0 for times ahead of the clock.
pub fn seconds_since(unix_nanos: i128) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as i128);
    (now - unix_nanos).max(0) as f64 / 1e9
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    probes: Mutex<Vec<(u64, &'static str, Arc<ProbeFn>)>>,
    last_render: tokio::sync::Mutex<Option<(Instant, String)>>,
    next_probe: AtomicU64,
    /// gRPC calls handled, by method and status.
    pub rpc_requests: Family<RpcLabels, Counter>,
    /// gRPC call durations (until the response starts; streams go on after).
    pub rpc_duration: Family<MethodLabels, Histogram>,
    /// HTTP requests the edge answered, by route, method and status class.
    pub http_requests: Family<HttpLabels, Counter>,
    /// HTTP request durations (until the response starts).
    pub http_duration: Family<RouteLabels, Histogram>,
    /// Connections of each database pool.
    pub pool_connections: Family<PoolLabels, Gauge>,
    /// Events committed to a service's outbox and not yet on the bus.
    pub outbox_backlog: Family<ServiceLabels, Gauge>,
    /// Age of the oldest event not yet on the bus.
    pub outbox_oldest_age: Family<ServiceLabels, Seconds>,
    /// Events the bus refused for good, set aside.
    pub outbox_dead_letters: Family<ServiceLabels, Gauge>,
    /// Events a consumer has yet to receive.
    pub consumer_pending: Family<ConsumerLabels, Gauge>,
    /// Events a consumer received and has not yet acknowledged.
    pub consumer_unacknowledged: Family<ConsumerLabels, Gauge>,
    /// Rows committed into datasets.
    pub rows_ingested: Counter,
    /// Rows refused by validation.
    pub rows_rejected: Counter,
    /// Rows streamed to callers by row queries.
    pub query_rows_streamed: Counter,
    /// How long the last event a consumer applied had waited since it was published (the
    /// search consumers' is the search index's lag).
    pub consumer_lag: Family<ConsumerLabels, Seconds>,
    /// Documents in the search index.
    pub search_documents: Family<EngineLabels, Gauge>,
    /// Scrape-time probes that failed or timed out: their gauges keep older values.
    pub probe_failures: Family<ProbeLabels, Counter>,
    /// Rounds a scheduled task has finished, failed ones included: one that stops counting is
    /// stuck.
    pub task_rounds: Family<TaskLabels, Counter>,
}

/// Labels of a scrape-time probe.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabels {
    /// What it reads (`outbox`, `consumer`, `search_documents`, `pool`).
    pub probe: &'static str,
}

type ProbeFn = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;

fn duration_histogram() -> Histogram {
    // 1 ms to ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("opendata"),
            probes: Mutex::new(Vec::new()),
            last_render: tokio::sync::Mutex::new(None),
            next_probe: AtomicU64::new(0),
            rpc_requests: Family::default(),
            rpc_duration: Family::new_with_constructor(duration_histogram),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(duration_histogram),
            pool_connections: Family::default(),
            outbox_backlog: Family::default(),
            outbox_oldest_age: Family::default(),
            outbox_dead_letters: Family::default(),
            consumer_pending: Family::default(),
            consumer_unacknowledged: Family::default(),
            rows_ingested: Counter::default(),
            rows_rejected: Counter::default(),
            query_rows_streamed: Counter::default(),
            consumer_lag: Family::default(),
            search_documents: Family::default(),
            probe_failures: Family::default(),
            task_rounds: Family::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "rpc_requests",
            "gRPC calls handled",
            metrics.rpc_requests.clone(),
        );
        registry.register(
            "rpc_duration_seconds",
            "gRPC call durations until the response starts",
            metrics.rpc_duration.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered",
            metrics.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request durations until the response starts",
            metrics.http_duration.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by state",
            metrics.pool_connections.clone(),
        );
        registry.register(
            "outbox_backlog_events",
            "Events committed and not yet published",
            metrics.outbox_backlog.clone(),
        );
        registry.register(
            "outbox_oldest_event_age_seconds",
            "Age of the oldest event not yet published",
            metrics.outbox_oldest_age.clone(),
        );
        registry.register(
            "outbox_dead_letters",
            "Events the bus refused for good",
            metrics.outbox_dead_letters.clone(),
        );
        registry.register(
            "consumer_pending_events",
            "Events a consumer has yet to receive",
            metrics.consumer_pending.clone(),
        );
        registry.register(
            "consumer_unacknowledged_events",
            "Events a consumer received and has not acknowledged",
            metrics.consumer_unacknowledged.clone(),
        );
        registry.register(
            "task_rounds",
            "Rounds a scheduled task has finished, failed ones included",
            metrics.task_rounds.clone(),
        );
        registry.register(
            "rows_ingested",
            "Rows committed into datasets",
            metrics.rows_ingested.clone(),
        );
        registry.register(
            "rows_rejected",
            "Rows refused by validation",
            metrics.rows_rejected.clone(),
        );
        registry.register(
            "query_rows_streamed",
            "Rows streamed by row queries",
            metrics.query_rows_streamed.clone(),
        );
        registry.register(
            "search_documents",
            "Documents in the search index",
            metrics.search_documents.clone(),
        );
        registry.register(
            "consumer_lag_seconds",
            "How long the last event a consumer applied had waited since it was published",
            metrics.consumer_lag.clone(),
        );
        registry.register(
            "probe_failures",
            "Scrape-time probes that failed or timed out (their gauges keep older values)",
            metrics.probe_failures.clone(),
        );
        registry.register("build_info", "The running version (always 1)", build_info());
        metrics
    }

    /// Runs `probe` at every scrape until the returned handle is dropped; a probe that fails (or
    /// takes longer than [`PROBE_TIMEOUT`]) is counted in `probe_failures` under `name`.
    pub fn on_scrape<F, Fut>(&self, name: &'static str, probe: F) -> Probe
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let id = self.next_probe.fetch_add(1, Ordering::Relaxed);
        let probe: Arc<ProbeFn> = Arc::new(move || Box::pin(probe()));
        self.lock_probes().push((id, name, probe));
        Probe { id }
    }

    fn lock_probes(&self) -> std::sync::MutexGuard<'_, Vec<(u64, &'static str, Arc<ProbeFn>)>> {
        // A probe list is only pushed to and filtered: a panic elsewhere leaves it whole.
        self.probes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs the probes (each within [`PROBE_TIMEOUT`], all at once) and encodes every metric;
    /// a rendering less than [`RENDER_REUSED`] old is answered again instead, and concurrent
    /// scrapes wait for one rendering.
    pub async fn render(&self) -> String {
        let mut last = self.last_render.lock().await;
        if let Some((at, text)) = last.as_ref()
            && at.elapsed() < RENDER_REUSED
        {
            return text.clone();
        }
        let text = self.render_now().await;
        *last = Some((Instant::now(), text.clone()));
        text
    }

    async fn render_now(&self) -> String {
        let probes: Vec<(&'static str, Arc<ProbeFn>)> = self
            .lock_probes()
            .iter()
            .map(|(_, name, probe)| (*name, Arc::clone(probe)))
            .collect();
        let outcomes = futures::future::join_all(probes.iter().map(|(name, probe)| async move {
            let outcome = tokio::time::timeout(PROBE_TIMEOUT, probe())
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")));
            (*name, outcome)
        }))
        .await;
        for (probe, outcome) in outcomes {
            if let Err(reason) = outcome {
                tracing::debug!(probe, %reason, "metrics probe failed");
                self.probe_failures
                    .get_or_create(&ProbeLabels { probe })
                    .inc();
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// A registered scrape-time probe; dropping it unregisters it.
#[must_use = "the probe runs only while its handle is kept"]
pub struct Probe {
    id: u64,
}

impl Drop for Probe {
    fn drop(&mut self) {
        metrics().lock_probes().retain(|(id, _, _)| *id != self.id);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

fn build_info() -> Family<VersionLabels, Gauge> {
    let info = Family::<VersionLabels, Gauge>::default();
    info.get_or_create(&VersionLabels {
        version: env!("CARGO_PKG_VERSION"),
    })
    .set(1);
    info
}

/// Reports a pool's connections (`used`, `idle`, `max`) at every scrape.
pub fn pool_probe(service: &'static str, pool: &'static str, connections: sqlx::PgPool) -> Probe {
    metrics().on_scrape("pool", move || {
        let connections = connections.clone();
        async move {
            let idle = connections.num_idle() as i64;
            let size = i64::from(connections.size());
            let max = i64::from(connections.options().get_max_connections());
            for (state, value) in [("used", size - idle), ("idle", idle), ("max", max)] {
                metrics()
                    .pool_connections
                    .get_or_create(&PoolLabels {
                        service,
                        pool,
                        state,
                    })
                    .set(value);
            }
            Ok(())
        }
    })
}

/// Serves `GET /metrics` on `listener` until `shutdown`. Anything else is a 404; a scrape is
/// answered within the probes' timeout. A failed accept (no file descriptors left) is retried, so
/// the server stops only with the process.
pub async fn serve(listener: TcpListener, shutdown: Shutdown) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let places = Arc::new(tokio::sync::Semaphore::new(SCRAPE_CONNECTIONS));
    loop {
        let place = tokio::select! {
            place = Arc::clone(&places).acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => return,
            },
            () = shutdown.triggered() => return,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "metrics listener cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.triggered() => return,
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(Duration::from_secs(5))
            .keep_alive(false)
            .serve_connection(
                TokioIo::new(stream),
                service_fn(|request: http::Request<hyper::body::Incoming>| async move {
                    Ok::<_, Infallible>(answer(request.uri().path()).await)
                }),
            );
        tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(30), connection).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, "metrics connection failed"),
                Err(_) => tracing::debug!("metrics connection took too long"),
            }
            drop(place);
        });
    }
}

async fn answer(path: &str) -> http::Response<Full<Bytes>> {
    let (status, content_type, body) = if path == "/metrics" {
        (
            http::StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics().render().await,
        )
    } else {
        (
            http::StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_owned(),
        )
    };
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// Binds `address` for [`serve`], naming it when it cannot.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|error| {
        std::io::Error::new(error.kind(), format!("metrics_listen {address}: {error}"))
    })
}

/// Tower layer counting and timing every gRPC call of a server.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

/// See [`RpcMetricsLayer`].
#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut call = RpcCall {
            method: Some(request.uri().path().to_owned()),
            started: Instant::now(),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            // Trailers-only responses (errors) carry the status in the headers; a response
            // that starts without one is a call under way, counted as OK.
            let headers = response.headers();
            let code = headers
                .get("grpc-status")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<i32>().ok())
                .map_or(tonic::Code::Ok, tonic::Code::from_i32);
            call.finish(code);
            Ok(response)
        })
    }
}

/// One gRPC call being timed; dropped before it is answered (the caller went away, its deadline
/// passed), it counts as `CANCELLED`.
struct RpcCall {
    method: Option<String>,
    started: Instant,
}

impl RpcCall {
    fn finish(&mut self, code: tonic::Code) {
        if let Some(method) = self.method.take() {
            record_rpc(method_label(method), code, self.started.elapsed());
        }
    }
}

impl Drop for RpcCall {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

/// A gRPC path as a label: the services' methods and the health service's as themselves, any
/// path a caller made up as `other`.
fn method_label(path: String) -> String {
    let known = opendata_proto::RPC_PATHS
        .binary_search(&path.as_str())
        .is_ok()
        || matches!(
            path.as_str(),
            "/grpc.health.v1.Health/Check" | "/grpc.health.v1.Health/Watch"
        );
    if known { path } else { "other".to_owned() }
}

fn record_rpc(method: String, code: tonic::Code, elapsed: Duration) {
    let metrics = metrics();
    metrics
        .rpc_duration
        .get_or_create(&MethodLabels {
            method: method.clone(),
        })
        .observe(elapsed.as_secs_f64());
    metrics
        .rpc_requests
        .get_or_create(&RpcLabels {
            method,
            code: code_name(code),
        })
        .inc();
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Records one HTTP request of the edge: `route` as the router declares it, and how long it took
/// when it was timed.
pub fn record_http(
    route: String,
    method: &http::Method,
    status: http::StatusCode,
    elapsed: Option<Duration>,
) {
    let metrics = metrics();
    if let Some(elapsed) = elapsed {
        metrics
            .http_duration
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
    }
    let class = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            method: method_name(method),
            status: class,
        })
        .inc();
}

/// The standard methods by name; any other a caller invents is `other`.
fn method_name(method: &http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}
