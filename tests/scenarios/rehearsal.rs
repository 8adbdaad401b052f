//! A rehearsal of the cluster on one machine. A real helm renders the chart (gRPC over TLS); each
//! Deployment's command runs as separate processes with the rendered configuration file and
//! exactly the variables the rendered Deployment sets (Secrets' values filled in, files at local
//! paths), plus the service-link variables Kubernetes injects for Services named `opendata-…`
//! (the chart turns them off; another release's Services, or a cluster that ignores that, would
//! still bring them). What DNS and pod addresses give a pod is given the local way: each replica
//! listens on a port of its own, and peers' URLs and NATS point at local addresses.
//! Two replicas of every component sit behind round-robin proxies (the Services), on a
//! database owned by a role that is not a superuser. An agency pushes over TLS, the CDO
//! publishes, the public reads, searches and asks for incentives through the edge; then one
//! replica of each component is killed mid-traffic, with no read lost that the client retries;
//! then every replica is rolled (a new one ready, the old one stopped with SIGTERM) with no read
//! failing at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use opendata_testkit::{COMPONENTS, Cluster, ClusterOptions, TestDatabase, binary, wait_until};

use crate::support::published_towns;
use crate::tls::Certificates;

/// What `helm template` rendered for one component.
struct Rendered {
    /// `config.toml` of its ConfigMap.
    config: String,
    /// The variables its Deployment sets: a literal value, or `None` for one from a Secret.
    variables: Vec<(String, Option<String>)>,
    /// Its container's command.
    command: String,
}

fn render() -> HashMap<String, Rendered> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let helm = root.join(".tools/helm");
    assert!(
        helm.exists(),
        "{} is missing: `make test` installs it (scripts/install-helm.sh)",
        helm.display()
    );
    let output = std::process::Command::new(helm)
        .args(["template", "opendata"])
        .arg(root.join("helm/opendata"))
        .args(["--namespace", "opendata"])
        .args(["--set", "grpcTls.existingSecret=opendata-grpc-tls"])
        // No Meilisearch server here: the search replicas hold embedded indexes.
        .args(["--set", "meilisearch.enabled=false"])
        .output()
        .expect("run helm");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifests = String::from_utf8(output.stdout).unwrap();
    let mut configs = HashMap::new();
    let mut deployments = HashMap::new();
    for document in manifests.split("\n---\n") {
        let Some(component) = document
            .lines()
            .find_map(|line| line.trim().strip_prefix("app.kubernetes.io/component: "))
        else {
            continue;
        };
        let component = component.to_owned();
        if document.contains("\nkind: ConfigMap") {
            let body = document
                .split("config.toml: |\n")
                .nth(1)
                .expect("config.toml");
            let config: Vec<&str> = body
                .lines()
                .map(|line| line.strip_prefix("    ").unwrap_or(line))
                .collect();
            configs.insert(component, config.join("\n"));
        } else if document.contains("\nkind: Deployment") {
            deployments.insert(component, deployment(document));
        }
    }
    COMPONENTS
        .iter()
        .map(|component| {
            let (command, variables) = deployments.remove(*component).expect("a Deployment");
            let config = configs.remove(*component).expect("a ConfigMap");
            (
                (*component).to_owned(),
                Rendered {
                    config,
                    variables,
                    command,
                },
            )
        })
        .collect()
}

/// A Deployment's container command and `env` entries.
fn deployment(document: &str) -> (String, Vec<(String, Option<String>)>) {
    let command = document
        .lines()
        .find_map(|line| line.trim().strip_prefix("command: "))
        .expect("a command")
        .to_owned();
    let env = document
        .split("\n          env:\n")
        .nth(1)
        .expect("env")
        .split("\n          volumeMounts:")
        .next()
        .unwrap();
    let mut variables: Vec<(String, Option<String>)> = Vec::new();
    for line in env.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- name: ") {
            variables.push((name.to_owned(), None));
        } else if let Some(value) = line.strip_prefix("value: ") {
            variables.last_mut().expect("a variable").1 = Some(value.to_owned());
        }
    }
    (command, variables)
}

/// What Kubernetes injects into every pod for a Service named `name` with `ports`.
fn service_links(name: &str, ports: &[(&str, u16)]) -> Vec<(String, String)> {
    let prefix = name.to_uppercase().replace('-', "_");
    let host = "10.96.0.10";
    let mut links = vec![(format!("{prefix}_SERVICE_HOST"), host.to_owned())];
    for (index, (port_name, port)) in ports.iter().enumerate() {
        if index == 0 {
            links.push((format!("{prefix}_SERVICE_PORT"), port.to_string()));
            links.push((format!("{prefix}_PORT"), format!("tcp://{host}:{port}")));
        }
        let port_name = port_name.to_uppercase();
        links.push((
            format!("{prefix}_SERVICE_PORT_{port_name}"),
            port.to_string(),
        ));
        let tcp = format!("{prefix}_PORT_{port}_TCP");
        links.push((tcp.clone(), format!("tcp://{host}:{port}")));
        links.push((format!("{tcp}_PROTO"), "tcp".to_owned()));
        links.push((format!("{tcp}_PORT"), port.to_string()));
        links.push((format!("{tcp}_ADDR"), host.to_owned()));
    }
    links
}

/// Reads a dataset through the edge, over and over, each on a new connection (as a load
/// balancer's fresh connections would), until told to stop; a read is tried up to `attempts`
/// times. Counts reads, and reads that failed every attempt.
struct Reader {
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl Reader {
    fn start(url: String, attempts: usize) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let lost = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let (stop, reads, lost) = (stop.clone(), reads.clone(), lost.clone());
            async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut last = String::new();
                    let mut read = false;
                    for _ in 0..attempts {
                        match client.get(&url).send().await {
                            Ok(response) if response.status().is_success() => {
                                let body = response.text().await.unwrap_or_default();
                                if body.contains("Bristol") {
                                    read = true;
                                    break;
                                }
                                last = format!("incomplete body: {body}");
                            }
                            Ok(response) => {
                                last = format!(
                                    "{}: {}",
                                    response.status(),
                                    response.text().await.unwrap_or_default()
                                );
                            }
                            Err(error) => last = error.to_string(),
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                    if !read {
                        lost.fetch_add(1, Ordering::Relaxed);
                        failures.push(last);
                    }
                    // Under the edge's anonymous quota (1,000 a minute per address and replica).
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                failures
            }
        });
        Reader {
            stop,
            reads,
            lost,
            task,
        }
    }

    /// Stops reading; returns the reads made and why each lost one failed.
    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let failures = self.task.await.unwrap();
        assert_eq!(self.lost.load(Ordering::Relaxed), failures.len());
        (self.reads.load(Ordering::Relaxed), failures)
    }
}

fn local(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_rendered_chart_runs_as_separate_processes_and_survives_kills_and_a_rollout() {
    let rendered = render();
    let certificates = Certificates::issue();
    let database = TestDatabase::create_unprivileged().await;
    let admin_key = format!("odk_rehearsal_{}", database.prefix);
    let configs: PathBuf = certificates.dir.join("config");
    std::fs::create_dir_all(&configs).unwrap();

    // Each component's environment: the rendered variables (Secrets' values and local paths
    // standing in for the mounted files), and the service links of every Service.
    let mut environments: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (component, rendered) in &rendered {
        assert_eq!(
            rendered.command,
            format!(r#"["/usr/local/bin/opendata", "serve", "{component}"]"#),
            "every Deployment runs `opendata serve <component>`"
        );
        // The files are mounted elsewhere here; everything else is as rendered.
        let config = rendered.config.replace(
            "/etc/opendata/tls/",
            &format!("{}/", certificates.dir.display()),
        );
        let path = configs.join(format!("{component}.toml"));
        std::fs::write(&path, config).unwrap();
        let mut variables = Vec::new();
        for (name, value) in &rendered.variables {
            let value = match (name.as_str(), value) {
                ("OPENDATA_CONFIG", Some(_)) => local(&path),
                ("SSL_CERT_FILE", Some(_)) => local(&certificates.ca),
                ("OPENDATA_DATABASE__URL", None) => database.url.clone(),
                ("OPENDATA_GOVERNANCE__BOOTSTRAP_ADMIN_KEY", None) => admin_key.clone(),
                (name, value) => panic!("the rehearsal does not know {name} ({value:?})"),
            };
            variables.push((name.clone(), value));
        }
        // Every pod listens on its own address in a cluster; here each replica gets a port.
        variables.push((
            "OPENDATA_METRICS_LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ));
        for (service, port_name, port) in [
            ("governance", "grpc", 50051),
            ("catalog", "grpc", 50052),
            ("ingestion", "grpc", 50053),
            ("search", "grpc", 50054),
            ("incentives", "grpc", 50055),
            ("edge", "http", 8080),
        ] {
            variables.extend(service_links(
                &format!("opendata-{service}"),
                &[(port_name, port), ("metrics", 9090)],
            ));
        }
        environments.insert(component.clone(), variables);
    }
    let ca = std::fs::read(&certificates.ca).unwrap();
    let mut cluster = Cluster::start(
        &binary("debug"),
        &database,
        &admin_key,
        ClusterOptions {
            replicas: 2,
            tls_ca: Some(ca),
        },
        |component| environments[component].clone(),
    )
    .await;

    // An agency's dataset, published by the CDO.
    let (publisher, dataset) =
        published_towns(|key| cluster.clients(key), &admin_key, "Rehearsal towns").await;

    // The agency pushes over TLS with the tool, trusting the private CA.
    let file = certificates.dir.join("towns.csv");
    std::fs::write(&file, "Town\nAvon\nBristol\n").unwrap();
    let pushed = tokio::process::Command::new(binary("debug"))
        .args([
            "push",
            "--dataset",
            &dataset,
            "--ca-file",
            &local(&certificates.ca),
        ])
        .arg(&file)
        .env("OPENDATA_KEY", &publisher)
        .env("OPENDATA_GOVERNANCE_URL", cluster.url("governance"))
        .env("OPENDATA_CATALOG_URL", cluster.url("catalog"))
        .env("OPENDATA_INGESTION_URL", cluster.url("ingestion"))
        .output()
        .await
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    // The public reads it, finds it, and asks for incentives, through the edge.
    let edge = cluster.url("edge");
    let rows = format!("{edge}/resource/{dataset}.json?$order=town");
    wait_until(Duration::from_secs(30), "the rows through the edge", || {
        let rows = rows.clone();
        async move {
            let body = reqwest::get(&rows).await.ok()?.text().await.ok()?;
            body.contains("Bristol").then_some(())
        }
    })
    .await;
    let search = format!("{edge}/api/catalog/v1?q=rehearsal");
    wait_until(
        Duration::from_secs(30),
        "the dataset found by search",
        || {
            let (search, dataset) = (search.clone(), dataset.clone());
            async move {
                let body = reqwest::get(&search).await.ok()?.text().await.ok()?;
                body.contains(&dataset).then_some(())
            }
        },
    )
    .await;
    let summary = reqwest::get(format!("{edge}/api/incentives/summary?by=program"))
        .await
        .unwrap();
    assert_eq!(summary.status(), 200, "{}", summary.text().await.unwrap());

    // One replica of each component killed mid-traffic: a client that retries loses nothing.
    let reader = Reader::start(rows.clone(), 5);
    for component in COMPONENTS {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.kill(component, 0).await;
        cluster.start_replica(component).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (reads, lost) = reader.finish().await;
    assert!(reads > 20, "reads went on while replicas died: {reads}");
    assert!(lost.is_empty(), "reads lost despite retries: {lost:?}");

    // A rollout of everything: each replica replaced by a new one (ready first), the old one
    // stopped with SIGTERM. Not one read fails.
    let reader = Reader::start(rows.clone(), 1);
    for component in COMPONENTS {
        let replicas = cluster.replicas[component].len();
        for _ in 0..replicas {
            cluster.start_replica(component).await;
            cluster.stop(component, 0).await;
        }
    }
    let (reads, failed) = reader.finish().await;
    assert!(reads > 20, "reads went on during the rollout: {reads}");
    assert!(
        failed.is_empty(),
        "reads failed during the rollout: {failed:?}"
    );

    drop(cluster);
    database.drop_all().await;
}
