//! `/healthz` (the process is up) and `/readyz` (the edge is serving and the services it needs
//! answer their health checks; search and incentives are reported but optional, since without
//! them only their routes fail).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
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

/// Readiness: the edge itself is serving (not draining, no task failed) and every required
/// dependency reports serving.
pub async fn readyz(State(state): State<EdgeState>) -> (StatusCode, Json<Value>) {
    let dependencies = state.dependencies();
    let checks = dependencies.iter().map(|dependency| async {
        let check = tokio::time::timeout(
            DEPENDENCY_CHECK_TIMEOUT,
            HealthClient::new(dependency.channel.clone()).check(HealthCheckRequest {
                service: String::new(),
            }),
        )
        .await;
        matches!(check, Ok(Ok(ref response)) if response.get_ref().status() == ServingStatus::Serving)
    });
    let serving = futures::future::join_all(checks).await;
    let mut report = serde_json::Map::new();
    let mut ready = state.health.is_serving();
    for (dependency, serving) in dependencies.iter().zip(serving) {
        ready &= serving || !dependency.required;
        report.insert(
            dependency.name.to_owned(),
            json!(if serving { "serving" } else { "not serving" }),
        );
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body =
        json!({"status": if ready { "ready" } else { "not ready" }, "dependencies": report});
    if !state.health.is_serving() {
        body["edge"] = json!({"serving": false, "problems": state.health.problems()});
    }
    (status, Json(body))
}
