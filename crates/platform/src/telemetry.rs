//! Logging and tracing: `tracing` with a fmt layer, an OpenTelemetry layer that always exists (so
//! trace ids are created and propagated), and an OTLP gRPC exporter when an endpoint is configured.
//! W3C trace context crosses gRPC metadata, HTTP headers and NATS headers through the carriers here.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry::{Context, global};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, fmt};

use crate::config::TelemetryConfig;

/// Flushes and shuts the span exporter down when dropped; keep it alive for the life of `main`.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Shutdown blocks; run it off the async worker threads when inside a runtime.
            let shutdown = move || {
                if let Err(error) = provider.shutdown() {
                    eprintln!("opentelemetry shutdown failed: {error}");
                }
            };
            match tokio::runtime::Handle::try_current() {
                Ok(_) => tokio::task::block_in_place(shutdown),
                Err(_) => shutdown(),
            }
        }
    }
}

/// Errors setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid log filter `{filter}`: {source}")]
    Filter {
        /// The filter as configured.
        filter: String,
        /// Why it does not parse.
        source: tracing_subscriber::filter::ParseError,
    },
    /// The OTLP exporter could not be built (bad endpoint).
    #[error("invalid otlp endpoint: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global subscriber is already installed.
    #[error("tracing is already initialised: {0}")]
    AlreadyInitialised(#[from] tracing_subscriber::util::TryInitError),
}

/// Installs the global subscriber and propagator. Spans are exported to `config.otlp_endpoint`, or
/// else to the standard `OTEL_EXPORTER_OTLP_ENDPOINT`, when either is set. Must run inside a tokio
/// runtime (the exporter's channel lives on it).
pub fn init(
    service_name: &'static str,
    config: &TelemetryConfig,
) -> Result<TelemetryGuard, TelemetryError> {
    global::set_text_map_propagator(TraceContextPropagator::new());

    let filter =
        EnvFilter::try_new(&config.log_filter).map_err(|source| TelemetryError::Filter {
            filter: config.log_filter.clone(),
            source,
        })?;
    let resource = Resource::builder().with_service_name(service_name).build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    let endpoint = config
        .otlp_endpoint
        .clone()
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok());
    if let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(std::time::Duration::from_secs(5))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service_name))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);

    let fmt_layer = if config.log_json {
        fmt::layer().json().with_filter(filter).boxed()
    } else {
        fmt::layer().with_filter(filter).boxed()
    };
    tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

/// The W3C trace context of the current span, as header name/value pairs.
pub fn current_context_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut headers));
    headers
}

/// Writes the current span's trace context into a carrier.
pub fn inject_current(carrier: &mut dyn Injector) {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, carrier));
}

/// Reads a remote trace context from a carrier.
pub fn extract(carrier: &dyn Extractor) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(carrier))
}

/// Makes `span` a child of the trace context in `carrier`; call before the span is first entered.
pub fn set_remote_parent(span: &tracing::Span, carrier: &dyn Extractor) {
    // Without a trace context (or without the OpenTelemetry layer) the span simply starts a trace.
    let _ = span.set_parent(extract(carrier));
}

/// Links `span` to the trace context in `carrier` without joining its trace: for callers that are
/// not trusted (the public), whose trace ids must not steer ours. Call before the span is first
/// entered.
pub fn link_remote(span: &tracing::Span, carrier: &dyn Extractor) {
    let context = extract(carrier);
    // An invalid (absent or malformed) context adds no link.
    span.add_link(context.span().span_context().clone());
}

/// Carrier over HTTP headers (and tonic metadata, which wraps them).
pub struct HeaderCarrier<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Read-only carrier over HTTP headers.
pub struct HeaderReader<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn trace_context_crosses_headers_into_a_child_span() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let caller = tracing::info_span!("caller");
            let mut headers = http::HeaderMap::new();
            caller.in_scope(|| inject_current(&mut HeaderCarrier(&mut headers)));
            let traceparent = headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .expect("a traceparent header")
                .to_owned();
            let caller_trace = caller
                .context()
                .span()
                .span_context()
                .trace_id()
                .to_string();
            assert!(
                traceparent.contains(&caller_trace),
                "{traceparent} carries {caller_trace}"
            );

            let callee = tracing::info_span!("callee");
            set_remote_parent(&callee, &HeaderReader(&headers));
            assert_eq!(
                callee
                    .context()
                    .span()
                    .span_context()
                    .trace_id()
                    .to_string(),
                caller_trace
            );

            let outbox_headers = caller.in_scope(current_context_headers);
            assert_eq!(outbox_headers.get("traceparent"), Some(&traceparent));

            let public = tracing::info_span!("public");
            link_remote(&public, &HeaderReader(&headers));
            assert_ne!(
                public
                    .context()
                    .span()
                    .span_context()
                    .trace_id()
                    .to_string(),
                caller_trace,
                "a public caller's trace is linked, not joined"
            );
        });
    }
}
