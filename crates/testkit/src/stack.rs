//! The stack under test.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use opendata_platform::clock::ManualClock;
use tokio::sync::OnceCell;

use opendata_platform::channels::direct_channel;
use opendata_platform::config::{DatabaseConfig, NatsConfig};
use opendata_platform::events::EventBus;
use opendata_platform::grpc::{ClientContext, MAX_MESSAGE_BYTES};
use opendata_platform::shutdown::Shutdown;
use opendata_proto::catalog::v1::GetDatasetRequest;
use opendata_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use opendata_proto::governance::v1::KeyKind;
use opendata_proto::governance::v1::audit_service_client::AuditServiceClient;
use opendata_proto::governance::v1::freshness_service_client::FreshnessServiceClient;
use opendata_proto::governance::v1::identity_service_client::IdentityServiceClient;
use opendata_proto::governance::v1::review_service_client::ReviewServiceClient;
use opendata_proto::incentives::v1::incentives_service_client::IncentivesServiceClient;
use opendata_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use opendata_proto::search::v1::SearchRequest;
use opendata_proto::search::v1::search_service_client::SearchServiceClient;
use opendata_search::config::MeilisearchSettings;
use opendata_stack::{Listen, Stack, StackConfig};
use secrecy::SecretString;
use sqlx::{Connection as _, PgConnection, PgPool};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::review::review_to_published;
use crate::seed::principal_with_key;

/// The server tests use, unless `OPENDATA_TEST_DATABASE_URL` names another (its `postgres` database).
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// NATS tests use, unless `OPENDATA_TEST_NATS_URL` names another.
const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// Knobs a test may turn.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// NATS URL the services use (a [`crate::TcpProxy`] to simulate outages).
    pub nats_url: Option<String>,
    /// Seconds keys stay cached.
    pub auth_cache_ttl_secs: u64,
    /// Seconds before an idle upload is abandoned.
    pub receive_idle_timeout_secs: u64,
    /// Seconds a retired version is kept at the least.
    pub retired_table_grace_secs: u64,
    /// The default retention: days a replaced version is kept (tests keep none unless they say
    /// otherwise)...
    pub retention_days: u32,
    /// ... and the newest versions kept whatever their age (tests keep only the current one).
    pub retention_versions: u32,
    /// Seconds between janitor rounds.
    pub janitor_interval_secs: u64,
    /// Public API requests per minute per address without an app token.
    pub anonymous_per_minute: u32,
    /// Public API requests per minute per app token.
    pub token_per_minute: u32,
    /// Public API requests in flight at once per address without an app token, and per app token.
    pub in_flight_per_caller: u32,
    /// The edge trusts the last `X-Forwarded-For` entry as the client's address (tests stand in
    /// for many clients that way).
    pub trust_forwarded_for: bool,
    /// Seconds an anonymous row query may run.
    pub anonymous_query_timeout_secs: u64,
    /// The planner's cost from which a row query counts as expensive.
    pub expensive_query_cost: f64,
    /// Expensive row queries the public may run at once (tests lock tables, which makes
    /// every query's cost unknown, so by default this is out of the way: as many as public
    /// queries).
    pub expensive_public_queries: Option<u32>,
    /// The database is owned by a role that is not a superuser, which the services connect as.
    pub unprivileged_database_owner: bool,
    /// Award downloads at once, and the seconds each may take (the service's defaults when
    /// `None`).
    pub award_exports: Option<(usize, u64)>,
    /// Seconds the edge gives a client to send request headers (and to stay idle), and a body.
    pub edge_read_timeout_secs: u64,
    /// The search engine: embedded, or Meilisearch at this URL (a [`crate::TcpProxy`] to
    /// simulate outages).
    pub search: SearchEngine,
    /// Governance publishes its freshness and retired-assets datasets (off by default, so tests
    /// see only their own datasets).
    pub public_governance_datasets: bool,
    /// The database has PostGIS, when the server offers it (on by default; off to see the
    /// portal without it).
    pub postgis: bool,
}

/// Which search engine a stack runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SearchEngine {
    /// The embedded tantivy index.
    #[default]
    Embedded,
    /// Meilisearch.
    Meilisearch {
        /// Base URL.
        url: String,
        /// API key, if the server has one.
        key: Option<String>,
    },
}

impl SearchEngine {
    /// Meilisearch as `OPENDATA_TEST_MEILI_URL` and `OPENDATA_TEST_MEILI_KEY` describe it, or
    /// `None` when no URL is set.
    pub fn meilisearch_from_env() -> Option<SearchEngine> {
        let url = std::env::var("OPENDATA_TEST_MEILI_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())?;
        Some(SearchEngine::Meilisearch {
            url,
            key: std::env::var("OPENDATA_TEST_MEILI_KEY")
                .ok()
                .filter(|key| !key.is_empty()),
        })
    }
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            nats_url: None,
            auth_cache_ttl_secs: 0,
            receive_idle_timeout_secs: 600,
            retired_table_grace_secs: 0,
            retention_days: 0,
            retention_versions: 1,
            janitor_interval_secs: 1,
            anonymous_per_minute: 1_000_000,
            token_per_minute: 1_000_000,
            in_flight_per_caller: 1_000,
            trust_forwarded_for: false,
            anonymous_query_timeout_secs: 60,
            expensive_query_cost: 10_000.0,
            expensive_public_queries: None,
            award_exports: None,
            unprivileged_database_owner: false,
            edge_read_timeout_secs: 20,
            search: SearchEngine::Embedded,
            public_governance_datasets: false,
            postgis: true,
        }
    }
}

/// The admin URL of the test PostgreSQL server.
fn admin_url() -> String {
    std::env::var("OPENDATA_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// The URL of the test NATS server.
pub fn nats_url() -> String {
    std::env::var("OPENDATA_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_owned())
}

fn database_url(name: &str) -> String {
    let admin = admin_url();
    match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => format!("{admin}/{name}"),
    }
}

/// `url` connecting as `user` with `password` instead of its own user.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

/// A database created for one test, and a NATS prefix to go with it.
pub struct TestDatabase {
    /// The database's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// A NATS prefix unique to the test.
    pub prefix: String,
    /// The role that owns the database, when it is not the server's administrator.
    owner: Option<String>,
}

impl TestDatabase {
    /// Creates a fresh database, empty but for PostGIS where the server offers it (as an
    /// operator would install it).
    pub async fn create() -> TestDatabase {
        TestDatabase::create_with(Owner::Administrator, PostGis::Installed).await
    }

    /// Creates a fresh database (with PostGIS where the server offers it) owned by a new role
    /// that is not a superuser (only allowed to create roles, as a managed PostgreSQL's owner
    /// is), which its URL connects as.
    pub async fn create_unprivileged() -> TestDatabase {
        TestDatabase::create_with(Owner::Unprivileged, PostGis::Installed).await
    }

    /// Creates a fresh database owned by `owner`, with or without PostGIS.
    pub async fn create_with(owner: Owner, postgis: PostGis) -> TestDatabase {
        let unprivileged = owner == Owner::Unprivileged;
        let postgis = postgis == PostGis::Installed;
        let id = Uuid::now_v7().simple().to_string();
        let name = format!("t_{id}");
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("connect to the test PostgreSQL server");
        let owner = unprivileged.then(|| format!("{name}_owner"));
        if let Some(owner) = &owner {
            sqlx::query(&format!(
                "CREATE ROLE \"{owner}\" LOGIN CREATEROLE PASSWORD '{id}'"
            ))
            .execute(&mut admin)
            .await
            .expect("create the test database's owner");
        }
        let owned_by = owner
            .as_ref()
            .map(|owner| format!(" OWNER \"{owner}\""))
            .unwrap_or_default();
        sqlx::query(&format!("CREATE DATABASE \"{name}\"{owned_by}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        if postgis {
            install_postgis(&name).await;
        }
        let url = match &owner {
            Some(owner) => as_user(&database_url(&name), owner, &id),
            None => database_url(&name),
        };
        TestDatabase {
            url,
            prefix: format!("t{}", &id[id.len() - 12..]),
            name,
            owner,
        }
    }

    /// Drops the database and the prefix's streams.
    pub async fn drop_all(&self) {
        let nats = NatsConfig {
            url: nats_url(),
            prefix: self.prefix.clone(),
            ..NatsConfig::default()
        };
        if let Ok(bus) = EventBus::connect(&nats, "opendata-tests").await {
            for domain in ["catalog", "ingestion", "governance", "incentives"] {
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), bus.delete_stream(domain)).await;
            }
        }
        if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
            if let Some(owner) = &self.owner {
                let _ = sqlx::query(&format!("DROP ROLE IF EXISTS \"{owner}\""))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
}

/// Who owns a test database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The server's administrator, whom the services connect as.
    Administrator,
    /// A new role that is not a superuser, whom the services connect as.
    Unprivileged,
}

/// Whether a test database has PostGIS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostGis {
    /// Installed, where the server offers it.
    Installed,
    /// Not installed.
    Absent,
}

/// Installs PostGIS in database `name` if the server has the extension.
async fn install_postgis(name: &str) {
    let mut database = PgConnection::connect(&database_url(name))
        .await
        .expect("connect to the test database as the administrator");
    sqlx::raw_sql(
        "DO $$ BEGIN \
           IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis') THEN \
             CREATE EXTENSION IF NOT EXISTS postgis; \
           END IF; \
         END $$",
    )
    .execute(&mut database)
    .await
    .expect("install PostGIS in the test database");
}

/// The whole stack in-process, on its own database and NATS prefix.
pub struct TestStack {
    /// Where each service listens.
    pub addresses: Listen,
    /// The bootstrap admin key.
    pub admin_key: String,
    /// The test database and NATS prefix.
    pub database: TestDatabase,
    /// A pool on the test database (no search path), for assertions.
    pub pool: PgPool,
    /// The NATS prefix.
    pub prefix: String,
    /// The search engine it runs.
    pub search_engine: SearchEngine,
    /// Governance's and incentives' clock, which tests move.
    pub clock: Arc<ManualClock>,
    cdo_key: OnceCell<String>,
    shutdown: Shutdown,
    stack: Option<Stack>,
}

/// Typed clients acting with one key.
pub struct Clients {
    /// Governance identity.
    pub identity: IdentityServiceClient<InterceptedService<Channel, ClientContext>>,
    /// Catalog.
    pub catalog: CatalogServiceClient<InterceptedService<Channel, ClientContext>>,
    /// Ingestion.
    pub ingestion: IngestionServiceClient<InterceptedService<Channel, ClientContext>>,
    /// Search.
    pub search: SearchServiceClient<InterceptedService<Channel, ClientContext>>,
    /// Governance review (inventory and workflow).
    pub review: ReviewClient,
    /// Governance freshness.
    pub freshness: FreshnessServiceClient<InterceptedService<Channel, ClientContext>>,
    /// Governance audit log.
    pub audit: AuditServiceClient<InterceptedService<Channel, ClientContext>>,
    /// Incentives.
    pub incentives: IncentivesServiceClient<InterceptedService<Channel, ClientContext>>,
}

/// The gRPC URLs of a stack's services.
#[derive(Debug, Clone, Copy)]
pub struct ServiceUrls<'a> {
    /// Governance.
    pub governance: &'a str,
    /// Catalog.
    pub catalog: &'a str,
    /// Ingestion.
    pub ingestion: &'a str,
    /// Search.
    pub search: &'a str,
    /// Incentives.
    pub incentives: &'a str,
}

/// A governance review client.
pub type ReviewClient = ReviewServiceClient<InterceptedService<Channel, ClientContext>>;

impl Clients {
    /// Clients of the services at these URLs, acting with `key` (anonymous when `None`).
    pub fn connect(urls: ServiceUrls<'_>, key: Option<&str>) -> Clients {
        Clients::connect_trusting(urls, key, None)
    }

    /// [`Clients::connect`] to `https://` URLs, trusting the PEM CA certificates `ca`.
    pub fn connect_trusting(
        urls: ServiceUrls<'_>,
        key: Option<&str>,
        ca: Option<&[u8]>,
    ) -> Clients {
        let ServiceUrls {
            governance,
            catalog,
            ingestion,
            search,
            incentives,
        } = urls;
        let context = match key {
            Some(key) => ClientContext::with_key(key).expect("a valid key"),
            None => ClientContext::anonymous(),
        };
        Clients {
            identity: IdentityServiceClient::with_interceptor(
                direct_channel(governance, ca).expect("channel"),
                context.clone(),
            ),
            review: ReviewServiceClient::with_interceptor(
                direct_channel(governance, ca).expect("channel"),
                context.clone(),
            ),
            freshness: FreshnessServiceClient::with_interceptor(
                direct_channel(governance, ca).expect("channel"),
                context.clone(),
            ),
            audit: AuditServiceClient::with_interceptor(
                direct_channel(governance, ca).expect("channel"),
                context.clone(),
            ),
            catalog: CatalogServiceClient::with_interceptor(
                direct_channel(catalog, ca).expect("channel"),
                context.clone(),
            )
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
            ingestion: IngestionServiceClient::with_interceptor(
                direct_channel(ingestion, ca).expect("channel"),
                context.clone(),
            )
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
            search: SearchServiceClient::with_interceptor(
                direct_channel(search, ca).expect("channel"),
                context.clone(),
            ),
            incentives: IncentivesServiceClient::with_interceptor(
                direct_channel(incentives, ca).expect("channel"),
                context,
            )
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
        }
    }
}

impl TestStack {
    /// Starts a stack with default options.
    pub async fn start() -> TestStack {
        TestStack::start_with(TestOptions::default()).await
    }

    /// Starts a stack.
    pub async fn start_with(options: TestOptions) -> TestStack {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                std::env::var("OPENDATA_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .with_test_writer()
            .try_init();
        let database = TestDatabase::create_with(
            if options.unprivileged_database_owner {
                Owner::Unprivileged
            } else {
                Owner::Administrator
            },
            if options.postgis {
                PostGis::Installed
            } else {
                PostGis::Absent
            },
        )
        .await;
        let url = database.url.clone();
        let prefix = database.prefix.clone();
        let admin_key = format!("odk_test_admin_{}", Uuid::now_v7().simple());
        let mut config = StackConfig {
            listen: Listen {
                governance: "127.0.0.1:0".parse().expect("address"),
                catalog: "127.0.0.1:0".parse().expect("address"),
                ingestion: "127.0.0.1:0".parse().expect("address"),
                search: "127.0.0.1:0".parse().expect("address"),
                incentives: "127.0.0.1:0".parse().expect("address"),
                edge: "127.0.0.1:0".parse().expect("address"),
            },
            drain_secs: 5,
            database: DatabaseConfig {
                url: SecretString::from(url.clone()),
                max_connections: 8,
                acquire_timeout_secs: 10,
            },
            nats: NatsConfig {
                url: options.nats_url.clone().unwrap_or_else(nats_url),
                prefix: prefix.clone(),
                ..NatsConfig::default()
            },
            ..StackConfig::default()
        };
        config.governance.bootstrap_admin_key = Some(SecretString::from(admin_key.clone()));
        config.catalog.auth_cache_ttl_secs = options.auth_cache_ttl_secs;
        config.ingestion.auth_cache_ttl_secs = options.auth_cache_ttl_secs;
        config.ingestion.receive_idle_timeout_secs = options.receive_idle_timeout_secs;
        config.ingestion.retired_table_grace_secs = options.retired_table_grace_secs;
        config.ingestion.retention_days = options.retention_days;
        config.ingestion.retention_versions = options.retention_versions;
        config.ingestion.janitor_interval_secs = options.janitor_interval_secs;
        config.edge.auth_cache_ttl_secs = options.auth_cache_ttl_secs;
        config.edge.rate_limits.anonymous_per_minute = options.anonymous_per_minute;
        config.edge.rate_limits.token_per_minute = options.token_per_minute;
        config.edge.rate_limits.in_flight_per_address = options.in_flight_per_caller;
        config.edge.rate_limits.in_flight_per_token = options.in_flight_per_caller;
        config.edge.rate_limits.trust_forwarded_for = options.trust_forwarded_for;
        config.catalog.anonymous_query_timeout_secs = options.anonymous_query_timeout_secs;
        config.catalog.expensive_query_cost = options.expensive_query_cost;
        config.catalog.max_concurrent_expensive_public_queries = options
            .expensive_public_queries
            .unwrap_or(config.catalog.max_concurrent_public_queries);
        config.edge.connections.header_read_timeout_secs = options.edge_read_timeout_secs;
        config.edge.connections.body_timeout_secs = options.edge_read_timeout_secs;
        config.search.auth_cache_ttl_secs = options.auth_cache_ttl_secs;
        if let SearchEngine::Meilisearch { url, key } = &options.search {
            config.search.meilisearch = MeilisearchSettings {
                url: url.clone(),
                api_key: key.clone().map(SecretString::from),
                index_prefix: format!("{prefix}_"),
                task_timeout_secs: 30,
            };
        }
        let shutdown = Shutdown::new();
        config.governance.job_interval_secs = 1;
        config.incentives.dataset.sync_interval_secs = 1;
        config.incentives.auth_cache_ttl_secs = options.auth_cache_ttl_secs;
        if let Some((at_once, seconds)) = options.award_exports {
            config.incentives.max_concurrent_exports = at_once;
            config.incentives.export_timeout_secs = seconds;
        }
        config.governance.public_datasets.enabled = options.public_governance_datasets;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let stack = Stack::start_with_clock(config, shutdown.clone(), clock.clone())
            .await
            .expect("start the stack");
        let pool = PgPool::connect(&url)
            .await
            .expect("connect to the test database");
        let test_stack = TestStack {
            addresses: stack.addresses.clone(),
            admin_key,
            database,
            pool,
            prefix,
            search_engine: options.search,
            clock,
            cdo_key: OnceCell::new(),
            shutdown,
            stack: Some(stack),
        };
        test_stack.wait_for_search().await;
        test_stack
    }

    /// A key of the stack's Chief Data Officer (created on first use).
    pub async fn cdo_key(&self) -> String {
        self.cdo_key
            .get_or_init(|| async {
                let mut identity = self.clients(Some(&self.admin_key)).identity;
                let role = opendata_proto::common::v1::Role::Cdo;
                principal_with_key(&mut identity, "cdo", role, KeyKind::ApiKey)
                    .await
                    .secret
            })
            .await
            .clone()
    }

    /// Takes a dataset through the review workflow to published with the CDO's key, then waits
    /// until the public sees it.
    pub async fn publish(&self, dataset_id: &str) {
        let mut review = self.clients(Some(&self.cdo_key().await)).review;
        review_to_published(&mut review, dataset_id).await;
        self.wait_public(dataset_id, true).await;
    }

    /// Waits until the public sees `dataset_id` (or, with `public` false, no longer does).
    pub async fn wait_public(&self, dataset_id: &str, public: bool) {
        let catalog = self.clients(None).catalog;
        let what = format!("dataset {dataset_id} to be public: {public}");
        crate::wait_until(Duration::from_secs(15), &what, || {
            let mut catalog = catalog.clone();
            async move {
                let found = catalog
                    .get_dataset(GetDatasetRequest {
                        id: dataset_id.to_owned(),
                    })
                    .await
                    .is_ok();
                (found == public).then_some(())
            }
        })
        .await;
    }

    /// Waits until `service`'s scheduled `task` (governance's `jobs`, ingestion's `janitor`) has
    /// run one whole round that began after this call (two more finished rounds: one may have
    /// been under way), so a test shows that a round did, or did not, do something without
    /// guessing how long a round takes. Rounds are counted in this process's metrics, so this
    /// assumes one stack per process, as `cargo nextest` (`make test`) runs tests.
    pub async fn after_a_full_round(&self, service: &'static str, task: &'static str) {
        let counter = opendata_platform::metrics::metrics()
            .task_rounds
            .get_or_create(&opendata_platform::metrics::TaskLabels { service, task })
            .clone();
        let target = counter.get() + 2;
        let what = format!("a full round of {service}'s {task}");
        crate::wait_until(Duration::from_secs(30), &what, || {
            let done = counter.get() >= target;
            async move { done.then_some(()) }
        })
        .await;
    }

    /// Waits until search answers (its first index build is done).
    pub async fn wait_for_search(&self) {
        let search = self.clients(None).search;
        crate::wait_until(Duration::from_secs(30), "search to answer", || {
            let mut search = search.clone();
            async move {
                search
                    .search(SearchRequest::default())
                    .await
                    .ok()
                    .map(|_| ())
            }
        })
        .await;
    }

    /// Stops the search service alone, as in an outage.
    pub async fn stop_search(&mut self) {
        if let Some(stack) = self.stack.as_mut() {
            stack.stop_search().await.expect("stop search");
        }
    }

    /// Starts the search service again and waits until it answers.
    pub async fn start_search(&mut self) {
        if let Some(stack) = self.stack.as_mut() {
            stack.start_search().await.expect("start search");
        }
        self.wait_for_search().await;
    }

    /// Clients acting with `key` (anonymous when `None`).
    pub fn clients(&self, key: Option<&str>) -> Clients {
        let url = |address: std::net::SocketAddr| format!("http://{address}");
        Clients::connect(
            ServiceUrls {
                governance: &url(self.addresses.governance),
                catalog: &url(self.addresses.catalog),
                ingestion: &url(self.addresses.ingestion),
                search: &url(self.addresses.search),
                incentives: &url(self.addresses.incentives),
            },
            key,
        )
    }

    /// The edge's base URL.
    pub fn edge_url(&self) -> String {
        format!("http://{}", self.addresses.edge)
    }

    /// Stops the stack and removes its database and streams.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(stack) = self.stack.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), stack.wait()).await;
        }
        self.pool.close().await;
        if let SearchEngine::Meilisearch { url, key } = &self.search_engine {
            drop_meilisearch_indexes(url, key.as_deref(), &format!("{}_", self.prefix)).await;
        }
        self.database.drop_all().await;
    }
}

/// Deletes the Meilisearch indexes whose names start with `prefix` (one test's).
pub async fn drop_meilisearch_indexes(url: &str, key: Option<&str>, prefix: &str) {
    let Ok(client) = meilisearch_sdk::client::Client::new(url, key) else {
        return;
    };
    let mut query = meilisearch_sdk::indexes::IndexesQuery::new(&client);
    query.with_limit(1000);
    let listed =
        tokio::time::timeout(Duration::from_secs(5), client.list_all_indexes_with(&query)).await;
    let Ok(Ok(indexes)) = listed else {
        return;
    };
    for index in indexes.results.iter().filter(|i| i.uid.starts_with(prefix)) {
        let _ = tokio::time::timeout(Duration::from_secs(5), client.delete_index(&index.uid)).await;
    }
}
