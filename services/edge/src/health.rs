//! `/healthz` (the process is up) and `/readyz` (the edge is serving and the services it needs
//! answer their health checks; search and incentives are reported but optional, since without
//! them only their routes fail).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use opendata_platform::events::OUTBOX_COMPONENT;
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::state::EdgeState;

/// Liveness.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// How long a dependency may take to answer its health check: all are asked at once, and the whole
/// answer must come within kubelet's default probe timeout of one second.
const DEPENDENCY_CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// The serving status of `service` (`""` for the whole server) at a dependency, if it answered in
/// time and knows the name.
async fn status(channel: &Channel, service: &str) -> Option<ServingStatus> {
    let mut client = HealthClient::new(channel.clone());
    let check = client.check(HealthCheckRequest {
        service: service.to_owned(),
    });
    match tokio::time::timeout(DEPENDENCY_CHECK_TIMEOUT, check).await {
        Ok(Ok(response)) => Some(response.get_ref().status()),
        _ => None,
    }
}

/// A readiness answer and when it was worked out.
#[derive(Clone)]
pub struct Readiness {
    at: Instant,
    status: StatusCode,
    body: Value,
}

/// How long one readiness answer is reused: `/readyz` asks every dependency, and a flood of it
/// must not become a flood of health checks on the connections real calls use.
const READINESS_REUSED: Duration = Duration::from_secs(1);

/// Readiness: the edge itself is serving (not draining, no task failed) and every required
/// dependency reports serving. Events a dependency had to set aside are reported, without making
/// the edge unready: the portal still serves. Worked out at most once a second, in a task of its
/// own (a caller that gives up does not waste it); callers meanwhile wait for, and share, the
/// answer being worked out. An edge that is not serving says so at once, asking no one.
pub async fn readyz(State(state): State<EdgeState>) -> (StatusCode, Json<Value>) {
    if !state.health.is_serving() {
        let body = json!({
            "status": "not ready",
            "edge": {"serving": false, "failed_tasks": state.health.failed_tasks()},
        });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    let mut last = Arc::clone(&state.readiness).lock_owned().await;
    if let Some(answer) = last.as_ref().filter(|a| a.at.elapsed() < READINESS_REUSED) {
        return (answer.status, Json(answer.body.clone()));
    }
    let worked_out = tokio::spawn(async move {
        let answer = readiness(&state).await;
        *last = Some(answer.clone());
        answer
    });
    match worked_out.await {
        Ok(answer) => (answer.status, Json(answer.body)),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready"})),
        ),
    }
}

async fn readiness(state: &EdgeState) -> Readiness {
    let at = Instant::now();
    let dependencies = state.dependencies();
    let checks = dependencies.iter().map(|dependency| async {
        tokio::join!(
            status(&dependency.channel, ""),
            status(&dependency.channel, OUTBOX_COMPONENT)
        )
    });
    let statuses = futures::future::join_all(checks).await;
    let mut report = serde_json::Map::new();
    let mut events = serde_json::Map::new();
    let mut ready = state.health.is_serving();
    for (dependency, (server, outbox)) in dependencies.iter().zip(statuses) {
        let serving = server == Some(ServingStatus::Serving);
        ready &= serving || !dependency.required;
        report.insert(
            dependency.name.to_owned(),
            json!(if serving { "serving" } else { "not serving" }),
        );
        if outbox == Some(ServingStatus::NotServing) {
            events.insert(
                dependency.name.to_owned(),
                json!("events set aside in its outbox_dead_letters table; see its log"),
            );
        }
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body =
        json!({"status": if ready { "ready" } else { "not ready" }, "dependencies": report});
    if !events.is_empty() {
        body["events"] = Value::Object(events);
    }
    Readiness { at, status, body }
}
