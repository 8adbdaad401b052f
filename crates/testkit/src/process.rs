//! The real `opendata up` binary as a child process, on a test database and NATS prefix, for what
//! only a real process shows: signals, exit codes, memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::stack::{Clients, ServiceUrls, TestDatabase, nats_url};

/// The `opendata` binary of a build profile (`debug` or `release`) in this workspace's target
/// directory, found from the running executable's location.
pub fn binary(profile: &str) -> PathBuf {
    // Tests and benches run from `<target>/<profile>/deps/`.
    let exe = std::env::current_exe().expect("executable path");
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("running from <target>/<profile>/deps");
    let path = target.join(profile).join("opendata");
    assert!(
        path.exists(),
        "{} is missing: build it first (`make test` and `make bench` do)",
        path.display()
    );
    path
}

/// A running `opendata up` process.
pub struct ServerProcess {
    /// The child process.
    pub child: Child,
    /// Service URLs by name (`governance`, `catalog`, `ingestion`, `search`, `edge`).
    pub urls: HashMap<String, String>,
}

impl ServerProcess {
    /// Starts `binary up` on `database` with every service on a free port, the bootstrap admin
    /// key, and extra `OPENDATA_*` settings; returns once it has printed its addresses.
    pub async fn start(
        binary: &Path,
        database: &TestDatabase,
        admin_key: &str,
        settings: &[(&str, &str)],
    ) -> ServerProcess {
        let mut command = Command::new(binary);
        command
            .arg("up")
            .env("OPENDATA_DATABASE__URL", &database.url)
            .env("OPENDATA_NATS__URL", nats_url())
            .env("OPENDATA_NATS__PREFIX", &database.prefix)
            .env("OPENDATA_LISTEN__GOVERNANCE", "127.0.0.1:0")
            .env("OPENDATA_LISTEN__CATALOG", "127.0.0.1:0")
            .env("OPENDATA_LISTEN__INGESTION", "127.0.0.1:0")
            .env("OPENDATA_LISTEN__SEARCH", "127.0.0.1:0")
            .env("OPENDATA_LISTEN__INCENTIVES", "127.0.0.1:0")
            .env("OPENDATA_LISTEN__EDGE", "127.0.0.1:0")
            .env("OPENDATA_GOVERNANCE__BOOTSTRAP_ADMIN_KEY", admin_key)
            .env("OPENDATA_TELEMETRY__LOG_FILTER", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in settings {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start opendata up");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut urls = HashMap::new();
        while urls.len() < 6 {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("opendata up prints its addresses")
                .expect("read stdout")
                .expect("opendata up exited before printing its addresses");
            if let Some(rest) = line.strip_prefix("opendata: ") {
                let mut words = rest.split_whitespace();
                let name = words.next().unwrap_or_default().to_owned();
                let url = words.last().unwrap_or_default().to_owned();
                urls.insert(name, url);
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess { child, urls }
    }

    /// Clients of this process's services, acting with `key` (anonymous when `None`).
    pub fn clients(&self, key: Option<&str>) -> Clients {
        Clients::connect(
            ServiceUrls {
                governance: self.url("governance"),
                catalog: self.url("catalog"),
                ingestion: self.url("ingestion"),
                search: self.url("search"),
                incentives: self.url("incentives"),
            },
            key,
        )
    }

    /// A service's URL.
    pub fn url(&self, service: &str) -> &str {
        self.urls
            .get(service)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The process's peak resident memory so far, in bytes (Linux `VmHWM`).
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Starts measuring [`ServerProcess::peak_memory_bytes`] afresh from the current resident
    /// memory (Linux `clear_refs`), so a benchmark sees one phase's peak.
    pub fn reset_peak_memory(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}
