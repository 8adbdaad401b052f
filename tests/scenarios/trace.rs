//! One trace across the services: `opendata push` → ingestion → (outbox, NATS) → catalog →
//! (outbox, NATS) → search, each a process of its own exporting spans over OTLP to a receiver in
//! this test. Every span the push caused shares the trace the tool started.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use opendata_testkit::{Cluster, ClusterOptions, TestDatabase, binary, wait_until};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

use crate::support::published_towns;

/// One span as received: the service that sent it, its trace, its name and attributes.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: Vec<u8>,
    name: String,
    attributes: HashMap<String, String>,
}

/// An OTLP trace receiver keeping every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let text = |value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match value
            .as_ref()
            .and_then(|value| value.value.as_ref())
        {
            Some(Value::StringValue(text)) => text.clone(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .map(|attribute| text(&attribute.value))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        service: service.clone(),
                        trace_id: span.trace_id,
                        name: span.name,
                        attributes: span
                            .attributes
                            .iter()
                            .map(|attribute| (attribute.key.clone(), text(&attribute.value)))
                            .collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test]
async fn a_push_is_one_trace_through_ingestion_nats_catalog_and_search() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let database = TestDatabase::create().await;
    let admin_key = format!("odk_trace_{}", database.prefix);
    let otlp = collector.clone();
    let options = ClusterOptions {
        replicas: 1,
        tls_ca: None,
    };
    let cluster = Cluster::start(
        &binary("debug"),
        &database,
        &admin_key,
        options,
        move |_| vec![("OPENDATA_TELEMETRY__OTLP_ENDPOINT".to_owned(), otlp.clone())],
    )
    .await;

    let (publisher, dataset) =
        published_towns(|key| cluster.clients(key), &admin_key, "Traced towns").await;

    let file = std::env::temp_dir().join(format!("opendata-trace-{}.csv", database.prefix));
    std::fs::write(&file, Bytes::from_static(b"Town\nAvon\nBristol\n")).unwrap();
    let pushed = tokio::process::Command::new(binary("debug"))
        .args(["push", "--dataset", &dataset])
        .arg(&file)
        .env("OPENDATA_KEY", &publisher)
        .env("OPENDATA_GOVERNANCE_URL", cluster.url("governance"))
        .env("OPENDATA_CATALOG_URL", cluster.url("catalog"))
        .env("OPENDATA_INGESTION_URL", cluster.url("ingestion"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    // The tool's root span, and every span of its trace from each service (the services export
    // in batches, every few seconds).
    let services = wait_until(
        Duration::from_secs(30),
        "the push's spans from every service on its path",
        || {
            let spans = receiver.spans.lock().unwrap().clone();
            async move {
                let root = spans.iter().find(|span| {
                    span.service == "opendata-cli"
                        && span.attributes.get("command").map(String::as_str) == Some("push")
                })?;
                let trace: Vec<&Received> = spans
                    .iter()
                    .filter(|span| span.trace_id == root.trace_id)
                    .collect();
                let services: BTreeSet<String> =
                    trace.iter().map(|span| span.service.clone()).collect();
                let consumed = |service: &str| {
                    trace
                        .iter()
                        .any(|span| span.service == service && span.name == "event")
                };
                let committed = trace.iter().any(|span| {
                    span.service == "opendata-ingestion"
                        && span
                            .attributes
                            .get("path")
                            .is_some_and(|path| path.ends_with("/CommitUpload"))
                });
                (committed && consumed("opendata-catalog") && consumed("opendata-search"))
                    .then_some(services)
            }
        },
    )
    .await;
    for service in [
        "opendata-cli",
        "opendata-governance",
        "opendata-ingestion",
        "opendata-catalog",
        "opendata-search",
    ] {
        assert!(
            services.contains(service),
            "{service} is in the push's trace: {services:?}"
        );
    }
    drop(cluster);
    database.drop_all().await;
}
