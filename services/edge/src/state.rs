//! What every handler shares: channels to the services and the settings.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES, bearer_credential};
use opendata_platform::upload::IngestionClient;
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

use std::time::Duration;

use opendata_platform::auth::Authenticator;
use opendata_platform::health::Health;

use opendata_limits::{WRITE_CSV_STREAMS, WRITE_JSON_CONVERSIONS};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a write waits for its turn (see [`EdgeState::write_turn`]).
pub const WRITE_TURN_WAIT: Duration = Duration::from_secs(10);

use crate::config::EdgeSettings;
use crate::error::SodaError;
use crate::health::Readiness;
use crate::rate_limit::{AppToken, RateLimits};

/// A catalog client carrying the caller's credentials (if any) and trace context.
pub type CatalogClient = CatalogServiceClient<InterceptedService<Channel, ClientContext>>;
/// A governance identity client.
pub type IdentityClient = IdentityServiceClient<InterceptedService<Channel, ClientContext>>;
pub type SearchClient = SearchServiceClient<InterceptedService<Channel, ClientContext>>;
pub type IncentivesClient = IncentivesServiceClient<InterceptedService<Channel, ClientContext>>;

/// Governance clients acting with one caller's key.
pub struct GovernanceClients {
    /// Inventory and workflow.
    pub review: ReviewServiceClient<InterceptedService<Channel, ClientContext>>,
    pub freshness: FreshnessServiceClient<InterceptedService<Channel, ClientContext>>,
    /// Audit log.
    pub audit: AuditServiceClient<InterceptedService<Channel, ClientContext>>,
}

/// A service the edge calls, for readiness checks.
pub struct Dependency {
    /// Its name.
    pub name: &'static str,
    /// The channel to it.
    pub channel: Channel,
    /// Whether the edge is unready without it. Search is not: when it is down only the catalog
    /// search routes fail.
    pub required: bool,
}

/// Channels to the services the edge calls.
#[derive(Clone)]
pub struct EdgeChannels {
    pub catalog: Channel,
    pub governance: Channel,
    pub search: Channel,
    pub incentives: Channel,
    pub ingestion: Channel,
}

/// Agency ids and names, and when they were read.
pub type AgencyNames = (std::time::Instant, Arc<Vec<(String, String)>>);

/// The incentives explorer's form options and when they were read.
pub type IncentiveOptions = (
    std::time::Instant,
    Arc<crate::pages::incentives::FormOptions>,
);

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct EdgeState {
    catalog: Channel,
    governance: Channel,
    search: Channel,
    incentives: Channel,
    ingestion: Channel,
    rate_limits: Option<Arc<RateLimits>>,
    /// Turns to convert and send a JSON write body.
    json_writes: Arc<Semaphore>,
    /// Turns to stream a CSV write body.
    csv_writes: Arc<Semaphore>,
    pub settings: Arc<EdgeSettings>,
    /// The edge's own health: not serving once it is draining or a task of its failed.
    pub health: Health,
    /// The last readiness answer (see [`crate::health::readyz`]).
    pub readiness: Arc<tokio::sync::Mutex<Option<Readiness>>>,
    /// Agency ids and names as pages show them, with when they were read (see
    /// [`crate::pages`]): every page names agencies, and they change rarely.
    pub agency_names: Arc<tokio::sync::Mutex<Option<AgencyNames>>>,
    /// Rows the pages read a moment ago (see [`crate::pages::cache`]).
    pub page_rows: Arc<crate::pages::cache::RowsCache>,
    /// The incentives explorer's form options, with when they were read.
    pub incentive_options: Arc<tokio::sync::Mutex<Option<IncentiveOptions>>>,
}

impl EdgeState {
    /// State over channels to the services, with the configured rate limits.
    pub fn new(channels: EdgeChannels, settings: EdgeSettings) -> Self {
        let EdgeChannels {
            catalog,
            governance,
            search,
            incentives,
            ingestion,
        } = channels;
        let rate_limits = settings.rate_limits.enabled.then(|| {
            let authenticator = Authenticator::new(
                governance.clone(),
                Duration::from_secs(settings.auth_cache_ttl_secs),
            );
            RateLimits::new(&settings.rate_limits, authenticator)
        });
        EdgeState {
            catalog,
            governance,
            search,
            incentives,
            ingestion,
            rate_limits,
            json_writes: Arc::new(Semaphore::new(WRITE_JSON_CONVERSIONS.get())),
            csv_writes: Arc::new(Semaphore::new(WRITE_CSV_STREAMS.get())),
            settings: Arc::new(settings),
            health: Health::new(),
            readiness: Arc::default(),
            agency_names: Arc::default(),
            page_rows: Arc::default(),
            incentive_options: Arc::default(),
        }
    }

    /// The rate limits, when enabled.
    pub fn rate_limits(&self) -> Option<&Arc<RateLimits>> {
        self.rate_limits.as_ref()
    }

    /// A catalog client acting for the caller: with the bearer key the request carries (so
    /// agencies can read their own unpublished datasets), else with its app token (which gives
    /// longer queries), else anonymous.
    pub fn catalog(
        &self,
        headers: &HeaderMap,
        app_token: Option<&AppToken>,
    ) -> Result<CatalogClient, SodaError> {
        let credential = bearer(headers).or(app_token.map(|AppToken(token)| token.as_str()));
        Ok(CatalogServiceClient::with_interceptor(
            self.catalog.clone(),
            caller_context(credential)?,
        )
        .max_decoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// An ingestion client acting with `key` (Socrata's write API).
    pub fn ingestion(&self, key: &str) -> Result<IngestionClient, SodaError> {
        Ok(IngestionServiceClient::with_interceptor(
            self.ingestion.clone(),
            ClientContext::with_key(key)?,
        )
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// A turn to write rows (Socrata's write API) of a JSON body (`csv`: false) or a CSV one,
    /// waiting at most [`WRITE_TURN_WAIT`]; 503 naming the limit otherwise.
    pub async fn write_turn(&self, csv: bool) -> Result<OwnedSemaphorePermit, SodaError> {
        let (turns, limit) = if csv {
            (&self.csv_writes, WRITE_CSV_STREAMS)
        } else {
            (&self.json_writes, WRITE_JSON_CONVERSIONS)
        };
        match tokio::time::timeout(WRITE_TURN_WAIT, turns.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(SodaError(
                ApiError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "too many writes are being received at once ({}); retry in a moment",
                        limit.name
                    ),
                )
                .with("limit", limit.name),
            )),
        }
    }

    /// The context of a caller who must present a key (`/api/admin/` routes): 401 without one.
    pub fn keyed(&self, headers: &HeaderMap) -> Result<ClientContext, SodaError> {
        let key = bearer(headers).ok_or_else(|| {
            SodaError(ApiError::new(
                ErrorCode::Unauthenticated,
                "an api key is required: send `Authorization: Bearer <key>`",
            ))
        })?;
        Ok(ClientContext::with_key(key)?)
    }

    /// Governance review, freshness and audit clients acting with the caller's key.
    pub fn governance(&self, headers: &HeaderMap) -> Result<GovernanceClients, SodaError> {
        Ok(self.governance_with(self.keyed(headers)?))
    }

    /// Governance review, freshness and audit clients acting with `key` (a staff page's
    /// session).
    pub fn governance_as(&self, key: &str) -> Result<GovernanceClients, SodaError> {
        Ok(self.governance_with(ClientContext::with_key(key)?))
    }

    /// An identity client acting with `key` (to start or end a session).
    pub fn identity_as(&self, key: &str) -> Result<IdentityClient, SodaError> {
        Ok(IdentityServiceClient::with_interceptor(
            self.governance.clone(),
            ClientContext::with_key(key)?,
        ))
    }

    fn governance_with(&self, context: ClientContext) -> GovernanceClients {
        GovernanceClients {
            review: ReviewServiceClient::with_interceptor(self.governance.clone(), context.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            freshness: FreshnessServiceClient::with_interceptor(
                self.governance.clone(),
                context.clone(),
            ),
            audit: AuditServiceClient::with_interceptor(self.governance.clone(), context),
        }
    }

    /// An anonymous governance client.
    pub fn identity(&self) -> IdentityClient {
        IdentityServiceClient::with_interceptor(self.governance.clone(), ClientContext::anonymous())
    }

    /// A review client acting with the request's bearer key, or anonymous without one.
    pub fn review_for(
        &self,
        headers: &HeaderMap,
    ) -> Result<ReviewServiceClient<InterceptedService<Channel, ClientContext>>, SodaError> {
        Ok(ReviewServiceClient::with_interceptor(
            self.governance.clone(),
            caller_context(bearer(headers))?,
        ))
    }

    /// An anonymous review client, for the public inventory counts.
    pub fn public_review(&self) -> ReviewServiceClient<InterceptedService<Channel, ClientContext>> {
        ReviewServiceClient::with_interceptor(self.governance.clone(), ClientContext::anonymous())
    }

    /// An anonymous search client (only public documents are indexed).
    pub fn search(&self) -> SearchClient {
        SearchServiceClient::with_interceptor(self.search.clone(), ClientContext::anonymous())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// An anonymous incentives client (its reads are public).
    pub fn incentives(&self) -> IncentivesClient {
        IncentivesServiceClient::with_interceptor(
            self.incentives.clone(),
            ClientContext::anonymous(),
        )
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The services the edge calls, for readiness checks.
    pub fn dependencies(&self) -> [Dependency; 4] {
        let dependency = |name, channel: &Channel, required| Dependency {
            name,
            channel: channel.clone(),
            required,
        };
        [
            dependency("catalog", &self.catalog, true),
            dependency("governance", &self.governance, true),
            dependency("search", &self.search, false),
            dependency("incentives", &self.incentives, false),
        ]
    }
}

/// The context of a call for a caller with `credential` (a key or app token), or anonymous.
fn caller_context(credential: Option<&str>) -> Result<ClientContext, SodaError> {
    Ok(match credential {
        Some(key) => ClientContext::with_key(key)?,
        None => ClientContext::anonymous(),
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_credential(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}
