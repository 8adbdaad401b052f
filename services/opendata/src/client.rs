//! Connections the command-line tool makes: where the services are and which key to use.

use clap::Args;
use std::path::PathBuf;

use opendata_platform::channels::direct_channel;
use opendata_platform::error::ERROR_DOMAIN;
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use opendata_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use opendata_proto::governance::v1::audit_service_client::AuditServiceClient;
use opendata_proto::governance::v1::freshness_service_client::FreshnessServiceClient;
use opendata_proto::governance::v1::identity_service_client::IdentityServiceClient;
use opendata_proto::governance::v1::review_service_client::ReviewServiceClient;
use opendata_proto::incentives::v1::incentives_service_client::IncentivesServiceClient;
use opendata_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use opendata_proto::search::v1::search_service_client::SearchServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

/// Error type of the command-line tool.
pub type CliError = Box<dyn std::error::Error + Send + Sync>;

/// Where the services are and who is calling.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// API key (`odk_...`).
    #[arg(long, env = "OPENDATA_KEY", hide_env_values = true, global = true)]
    pub key: Option<String>,
    /// Governance gRPC URL.
    #[arg(
        long,
        env = "OPENDATA_GOVERNANCE_URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub governance_url: String,
    /// Catalog gRPC URL.
    #[arg(
        long,
        env = "OPENDATA_CATALOG_URL",
        default_value = "http://127.0.0.1:50052",
        global = true
    )]
    pub catalog_url: String,
    /// Ingestion gRPC URL.
    #[arg(
        long,
        env = "OPENDATA_INGESTION_URL",
        default_value = "http://127.0.0.1:50053",
        global = true
    )]
    pub ingestion_url: String,
    /// Search gRPC URL.
    #[arg(
        long,
        env = "OPENDATA_SEARCH_URL",
        default_value = "http://127.0.0.1:50054",
        global = true
    )]
    pub search_url: String,
    /// Incentives gRPC URL.
    #[arg(
        long,
        env = "OPENDATA_INCENTIVES_URL",
        default_value = "http://127.0.0.1:50055",
        global = true
    )]
    pub incentives_url: String,
    /// PEM CA certificates to trust for `https://` URLs, besides the system's (a private CA's).
    #[arg(long, env = "OPENDATA_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
}

type Intercepted = InterceptedService<Channel, ClientContext>;

/// A catalog client.
pub type CatalogClient = CatalogServiceClient<Intercepted>;

impl Connection {
    /// The certificates `--ca-file` names, if it does.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, CliError> {
        match &self.ca_file {
            Some(path) => {
                Ok(Some(std::fs::read(path).map_err(|error| {
                    format!("--ca-file {}: {error}", path.display())
                })?))
            }
            None => Ok(None),
        }
    }

    /// A channel to `url`, trusting `--ca-file` besides the system's roots.
    fn channel(&self, url: &str) -> Result<Channel, CliError> {
        Ok(direct_channel(url, self.ca_pem()?.as_deref())?)
    }

    fn context(&self) -> Result<ClientContext, CliError> {
        match &self.key {
            Some(key) => Ok(ClientContext::with_key(key)?),
            None => Ok(ClientContext::anonymous()),
        }
    }

    /// Governance identity client.
    pub fn identity(&self) -> Result<IdentityServiceClient<Intercepted>, CliError> {
        Ok(IdentityServiceClient::with_interceptor(
            self.channel(&self.governance_url)?,
            self.context()?,
        ))
    }

    /// Governance review (inventory and workflow) client.
    pub fn review(&self) -> Result<ReviewServiceClient<Intercepted>, CliError> {
        Ok(ReviewServiceClient::with_interceptor(
            self.channel(&self.governance_url)?,
            self.context()?,
        ))
    }

    /// Governance freshness client.
    pub fn freshness(&self) -> Result<FreshnessServiceClient<Intercepted>, CliError> {
        Ok(FreshnessServiceClient::with_interceptor(
            self.channel(&self.governance_url)?,
            self.context()?,
        ))
    }

    /// Governance audit client.
    pub fn audit(&self) -> Result<AuditServiceClient<Intercepted>, CliError> {
        Ok(AuditServiceClient::with_interceptor(
            self.channel(&self.governance_url)?,
            self.context()?,
        ))
    }

    /// Catalog client.
    pub fn catalog(&self) -> Result<CatalogClient, CliError> {
        Ok(CatalogServiceClient::with_interceptor(
            self.channel(&self.catalog_url)?,
            self.context()?,
        )
        .max_decoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// Ingestion client.
    pub fn ingestion(&self) -> Result<IngestionServiceClient<Intercepted>, CliError> {
        Ok(IngestionServiceClient::with_interceptor(
            self.channel(&self.ingestion_url)?,
            self.context()?,
        )
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// Incentives client.
    pub fn incentives(&self) -> Result<IncentivesServiceClient<Intercepted>, CliError> {
        Ok(IncentivesServiceClient::with_interceptor(
            self.channel(&self.incentives_url)?,
            self.context()?,
        )
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
        .max_decoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// Search client.
    pub fn search(&self) -> Result<SearchServiceClient<Intercepted>, CliError> {
        Ok(
            SearchServiceClient::with_interceptor(self.channel(&self.search_url)?, self.context()?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
    }
}

/// A gRPC error as one readable line: the message and its details. When no service sent it (the
/// service could not be reached), the transport's own reason follows, since that is what the
/// caller has to fix (a refused connection, an untrusted certificate).
pub fn describe(status: &tonic::Status) -> String {
    let described = describe_status(status);
    match transport_reason(status) {
        Some(reason) => format!("{described}: {reason}"),
        None => described,
    }
}

/// What a status that no service sent says, with its causes (a refused connection, an untrusted
/// certificate): the operator's own tool shows it; the services never pass it on to the public.
/// `None` for the services' own errors.
fn transport_reason(status: &tonic::Status) -> Option<String> {
    let details = status.get_error_details();
    if details
        .error_info()
        .is_some_and(|info| info.domain == ERROR_DOMAIN)
    {
        return None;
    }
    let mut reason = status.message().to_owned();
    let mut cause = std::error::Error::source(status);
    while let Some(error) = cause {
        // Layers repeat their inner error's words; each says something once.
        let text = error.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        cause = error.source();
    }
    Some(reason)
}

fn describe_status(status: &tonic::Status) -> String {
    let error = opendata_platform::error::ApiError::from_status(status);
    let mut details: Vec<String> = error
        .details
        .iter()
        .filter(|(key, _)| key.as_str() != "field")
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    details.sort();
    if details.is_empty() {
        format!("{} ({})", error.message, error.code.as_str())
    } else {
        format!(
            "{} ({}; {})",
            error.message,
            error.code.as_str(),
            details.join(", ")
        )
    }
}
