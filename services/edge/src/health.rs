//! `/healthz` (the process is up) and `/readyz` (the services it needs answer their health checks;
//! search and incentives are reported but optional, since without them only their routes fail).

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

/// Readiness: every required dependency reports serving.
pub async fn readyz(State(state): State<EdgeState>) -> (StatusCode, Json<Value>) {
    let mut report = serde_json::Map::new();
    let mut ready = true;
    for dependency in state.dependencies() {
        let check = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            HealthClient::new(dependency.channel).check(HealthCheckRequest {
                service: String::new(),
            }),
        )
        .await;
        let serving = matches!(check, Ok(Ok(ref response)) if response.get_ref().status() == ServingStatus::Serving);
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
    (
        status,
        Json(json!({"status": if ready { "ready" } else { "not ready" }, "dependencies": report})),
    )
}
