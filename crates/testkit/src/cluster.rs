//! The portal as Kubernetes runs it, on one machine: every component is `opendata serve
//! <component>` in a process of its own, each component's replicas sit behind a round-robin TCP
//! proxy standing in for its Service, and the components reach each other through the proxies'
//! addresses. Replicas can be killed, stopped and started again while traffic flows.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use opendata_platform::channels::direct_channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::stack::{Clients, ServiceUrls, TestDatabase, nats_url};
use crate::wait_until;

/// The components, in the order they start.
pub const COMPONENTS: [&str; 6] = [
    "governance",
    "catalog",
    "ingestion",
    "incentives",
    "search",
    "edge",
];

/// A TCP proxy handing each new connection to the next of its upstreams that accepts it, as a
/// Service's virtual IP spreads connections over ready pods.
pub struct RoundRobin {
    address: SocketAddr,
    upstreams: Arc<Mutex<Vec<SocketAddr>>>,
}

impl RoundRobin {
    /// Starts a proxy with no upstreams yet.
    pub async fn start() -> RoundRobin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let upstreams: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        let shared = Arc::clone(&upstreams);
        tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut inbound, _)) = listener.accept().await {
                let candidates: Vec<SocketAddr> = shared.lock().expect("upstreams").clone();
                next = next.wrapping_add(1);
                tokio::spawn(async move {
                    // The first upstream from the turn's one that accepts, as endpoints drop a
                    // pod that is gone.
                    for offset in 0..candidates.len() {
                        let target = candidates[(next + offset) % candidates.len()];
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        RoundRobin { address, upstreams }
    }

    /// The proxy's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn add(&self, upstream: SocketAddr) {
        self.upstreams.lock().expect("upstreams").push(upstream);
    }

    fn remove(&self, upstream: SocketAddr) {
        self.upstreams
            .lock()
            .expect("upstreams")
            .retain(|known| *known != upstream);
    }
}

/// One running replica.
pub struct Replica {
    /// Its process.
    pub child: Child,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Replica {
    /// Sends SIGTERM, as Kubernetes does to a pod it stops.
    pub fn terminate(&self) {
        signal(&self.child, "-TERM");
    }
}

fn signal(child: &Child, signal: &str) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
    }
}

/// How the cluster runs.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Replicas of every component.
    pub replicas: usize,
    /// The gRPC components speak TLS: their URLs are `https://localhost:…`, and callers trust
    /// these PEM CA certificates (the components themselves are told so through
    /// `environment`, as the chart does with `SSL_CERT_FILE`).
    pub tls_ca: Option<Vec<u8>>,
}

/// The cluster: proxies, and the replicas behind them.
pub struct Cluster {
    options: ClusterOptions,
    binary: PathBuf,
    environment: HashMap<&'static str, Vec<(String, String)>>,
    proxies: HashMap<&'static str, RoundRobin>,
    /// Each component's replicas.
    pub replicas: HashMap<&'static str, Vec<Replica>>,
}

impl Cluster {
    /// Starts the replicas `options` asks for on `database`, each with
    /// `environment(component)` on top of the wiring: the database, NATS, listening on a free
    /// port, and the other components' proxies as their URLs. Returns once every replica listens.
    pub async fn start(
        binary: &Path,
        database: &TestDatabase,
        admin_key: &str,
        options: ClusterOptions,
        environment: impl Fn(&str) -> Vec<(String, String)>,
    ) -> Cluster {
        let mut proxies = HashMap::new();
        for component in COMPONENTS {
            proxies.insert(component, RoundRobin::start().await);
        }
        let tls = options.tls_ca.is_some();
        let url = |component: &str| service_url(&proxies, component, tls);
        let mut cluster = Cluster {
            options: options.clone(),
            binary: binary.to_owned(),
            environment: HashMap::new(),
            replicas: HashMap::new(),
            proxies: HashMap::new(),
        };
        for component in COMPONENTS {
            let mut variables = vec![
                ("OPENDATA_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
                ("OPENDATA_TELEMETRY__LOG_JSON".to_owned(), "true".to_owned()),
                (
                    "OPENDATA_TELEMETRY__LOG_FILTER".to_owned(),
                    "info".to_owned(),
                ),
            ];
            if component != "edge" {
                variables.push(("OPENDATA_NATS__URL".to_owned(), nats_url()));
                variables.push(("OPENDATA_NATS__PREFIX".to_owned(), database.prefix.clone()));
            }
            if matches!(
                component,
                "governance" | "catalog" | "ingestion" | "incentives"
            ) {
                variables.push(("OPENDATA_DATABASE__URL".to_owned(), database.url.clone()));
            }
            if component == "governance" {
                variables.push((
                    "OPENDATA_GOVERNANCE__BOOTSTRAP_ADMIN_KEY".to_owned(),
                    admin_key.to_owned(),
                ));
            }
            let peers: &[&str] = match component {
                "governance" => &["catalog", "ingestion"],
                "catalog" => &["governance"],
                "ingestion" => &["governance", "catalog"],
                "search" => &["governance", "catalog", "incentives"],
                "incentives" => &["governance", "catalog", "ingestion"],
                _ => &["governance", "catalog", "search", "incentives"],
            };
            for peer in peers {
                variables.push((
                    format!(
                        "OPENDATA_{}__{}_URL",
                        component.to_uppercase(),
                        peer.to_uppercase()
                    ),
                    url(peer),
                ));
            }
            if component == "edge" {
                variables.push(("OPENDATA_EDGE__PUBLIC_URL".to_owned(), url("edge")));
            }
            variables.extend(environment(component));
            cluster.environment.insert(component, variables);
        }
        cluster.proxies = proxies;
        for component in COMPONENTS {
            for _ in 0..options.replicas.max(1) {
                cluster.start_replica(component).await;
            }
        }
        cluster
    }

    /// Starts one more replica of `component` and puts it behind its proxy once it is ready (as
    /// Kubernetes adds a pod's endpoint once its readiness probe passes).
    pub async fn start_replica(&mut self, component: &'static str) {
        let mut command = Command::new(&self.binary);
        command
            .args(["serve", component])
            .env_remove("OPENDATA_CONFIG")
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in &self.environment[component] {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start opendata serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let address = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("{component} listens within a minute"))
                .expect("read the log")
                .unwrap_or_else(|| panic!("{component} exited before it listened"));
            if let Some(address) = listening(&line) {
                break address;
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.wait_ready(component, address).await;
        self.proxies[component].add(address);
        self.replicas
            .entry(component)
            .or_default()
            .push(Replica { child, address });
    }

    /// Waits until the replica at `address` passes its readiness probe: the edge's `/readyz`, a
    /// gRPC component's health check.
    async fn wait_ready(&self, component: &str, address: SocketAddr) {
        let ca = self.options.tls_ca.clone();
        let ready = || {
            let ca = ca.clone();
            async move {
                if component == "edge" {
                    let response = reqwest::Client::new()
                        .get(format!("http://{address}/readyz"))
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await
                        .ok()?;
                    return response.status().is_success().then_some(());
                }
                let url = match ca {
                    Some(_) => format!("https://localhost:{}", address.port()),
                    None => format!("http://{address}"),
                };
                let channel = direct_channel(&url, ca.as_deref()).ok()?;
                let mut client = HealthClient::new(channel);
                let check = client.check(HealthCheckRequest {
                    service: String::new(),
                });
                // A probe has a timeout: a replica that does not answer is not ready.
                let status = tokio::time::timeout(Duration::from_secs(2), check)
                    .await
                    .ok()?
                    .ok()?
                    .into_inner()
                    .status();
                (status == ServingStatus::Serving).then_some(())
            }
        };
        wait_until(
            Duration::from_secs(60),
            &format!("{component} at {address} is ready"),
            ready,
        )
        .await;
    }

    /// Kills replica `index` of `component` (SIGKILL), then takes it out of its proxy a moment
    /// later, as a failed readiness probe would (meanwhile new connections meet a closed port).
    pub async fn kill(&mut self, component: &'static str, index: usize) {
        let replica = &mut self
            .replicas
            .get_mut(component)
            .expect("the component runs")[index];
        replica.child.kill().await.expect("kill the replica");
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.take(component, index);
    }

    /// Stops replica `index` of `component` as a rollout does: out of the proxy (its endpoint
    /// removed), a pause (the preStop hook), SIGTERM, and waits until it has drained and exited,
    /// successfully.
    pub async fn stop(&mut self, component: &'static str, index: usize) {
        let mut replica = self.take(component, index);
        tokio::time::sleep(Duration::from_secs(1)).await;
        replica.terminate();
        let status = tokio::time::timeout(Duration::from_secs(30), replica.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{component} drains within 30 s"))
            .expect("wait for the replica");
        assert!(
            status.success(),
            "{component} exits cleanly on SIGTERM: {status}"
        );
    }

    fn take(&mut self, component: &'static str, index: usize) -> Replica {
        let replica = self
            .replicas
            .get_mut(component)
            .expect("the component runs")
            .remove(index);
        self.proxies[component].remove(replica.address);
        replica
    }

    /// A component's URL (its proxy).
    pub fn url(&self, component: &str) -> String {
        service_url(&self.proxies, component, self.options.tls_ca.is_some())
    }

    /// Clients of the cluster's services through their proxies, acting with `key`.
    pub fn clients(&self, key: Option<&str>) -> Clients {
        Clients::connect_trusting(
            ServiceUrls {
                governance: &self.url("governance"),
                catalog: &self.url("catalog"),
                ingestion: &self.url("ingestion"),
                search: &self.url("search"),
                incentives: &self.url("incentives"),
            },
            key,
            self.options.tls_ca.as_deref(),
        )
    }
}

/// A component's URL through its proxy: `https://localhost:…` for gRPC over TLS (certificates
/// name localhost), `http://127.0.0.1:…` otherwise.
fn service_url(proxies: &HashMap<&'static str, RoundRobin>, component: &str, tls: bool) -> String {
    let port = proxies[component].address().port();
    if tls && component != "edge" {
        format!("https://localhost:{port}")
    } else {
        format!("http://127.0.0.1:{port}")
    }
}

/// The address of a `listening` log line (JSON), if it is one.
fn listening(line: &str) -> Option<SocketAddr> {
    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = entry.get("fields")?;
    if fields.get("message")?.as_str()? != "listening" {
        return None;
    }
    fields.get("address")?.as_str()?.parse().ok()
}
