//! `opendata check`: is a deployment answering? The edge's `/readyz`, one Discovery query, and the
//! standard gRPC health check of every service URL given. `helm test` runs it in the cluster;
//! operators run it anywhere. Prints one line per check; fails when any check does.

use std::time::Duration;

use clap::Args;
use opendata_platform::channels::direct_channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::client::{CliError, Connection};

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What `opendata check` looks at.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The edge's base URL (`http://opendata-edge:8080`); its checks are skipped when unset.
    #[arg(long)]
    pub edge_url: Option<String>,
    /// Services whose gRPC health to check, by name (`governance`, `catalog`, `ingestion`,
    /// `search`, `incentives`), at the connection's URLs.
    #[arg(long, value_delimiter = ',')]
    pub grpc: Vec<GrpcService>,
}

/// A gRPC service `opendata check` can ask.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GrpcService {
    /// Governance.
    Governance,
    /// Catalog.
    Catalog,
    /// Ingestion.
    Ingestion,
    /// Search.
    Search,
    /// Incentives.
    Incentives,
}

/// Runs every check, printing each; an error names the checks that failed.
pub async fn check(connection: &Connection, args: &CheckArgs) -> Result<(), CliError> {
    let mut failed = Vec::new();
    if let Some(edge) = &args.edge_url {
        let edge = edge.trim_end_matches('/');
        for (name, path) in [
            ("edge /readyz", "/readyz"),
            ("edge discovery", "/api/catalog/v1?limit=1"),
        ] {
            report(name, http_ok(&format!("{edge}{path}")).await, &mut failed);
        }
    }
    for service in &args.grpc {
        let (name, url) = match service {
            GrpcService::Governance => ("governance", &connection.governance_url),
            GrpcService::Catalog => ("catalog", &connection.catalog_url),
            GrpcService::Ingestion => ("ingestion", &connection.ingestion_url),
            GrpcService::Search => ("search", &connection.search_url),
            GrpcService::Incentives => ("incentives", &connection.incentives_url),
        };
        let outcome = serving(url, connection.ca_pem()?.as_deref()).await;
        report(&format!("{name} grpc health"), outcome, &mut failed);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")).into())
    }
}

#[allow(clippy::print_stdout)]
fn report(name: &str, outcome: Result<(), String>, failed: &mut Vec<String>) {
    match outcome {
        Ok(()) => println!("ok    {name}"),
        Err(reason) => {
            println!("FAIL  {name}: {reason}");
            failed.push(name.to_owned());
        }
    }
}

async fn http_ok(url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(CHECK_TIMEOUT)
        .build()
        .map_err(|error| error.to_string())?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered {status}"))
    }
}

async fn serving(url: &str, ca: Option<&[u8]>) -> Result<(), String> {
    let channel = direct_channel(url, ca).map_err(|error| error.to_string())?;
    let answer = tokio::time::timeout(
        CHECK_TIMEOUT,
        HealthClient::new(channel).check(HealthCheckRequest {
            service: String::new(),
        }),
    )
    .await
    .map_err(|_| format!("{url} did not answer within {CHECK_TIMEOUT:?}"))?
    .map_err(|status| crate::client::describe(&status))?;
    match answer.into_inner().status() {
        ServingStatus::Serving => Ok(()),
        status => Err(format!("{url} reports {}", status.as_str_name())),
    }
}
