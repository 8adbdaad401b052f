//! Agencies call the gRPC services from outside the cluster over TLS: `opendata serve` with a
//! certificate and key speaks only TLS, and the command-line tool reaches it with an `https://`
//! URL, trusting a private CA through `--ca-file`. Without that CA, or in plaintext, nothing gets
//! through; a half-configured or unreadable certificate stops start-up naming the setting.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use opendata_testkit::{TestDatabase, binary, nats_url};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::process::Command;
use uuid::Uuid;

/// A private CA and a certificate it signed for `localhost`, as PEM files in a fresh directory.
pub struct Certificates {
    /// The directory.
    pub dir: PathBuf,
    /// The CA's certificate.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl Certificates {
    /// Issues a CA and a server certificate.
    pub fn issue() -> Certificates {
        let dir = std::env::temp_dir().join(format!("opendata-tls-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let certificates = Certificates {
            ca: dir.join("ca.crt"),
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            dir,
        };
        std::fs::write(&certificates.ca, ca.pem()).unwrap();
        std::fs::write(&certificates.cert, cert.pem()).unwrap();
        std::fs::write(&certificates.key, key.serialize_pem()).unwrap();
        certificates
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `opendata serve governance` on `database`, with `settings` on top.
fn governance(database: &TestDatabase, port: u16, admin_key: &str) -> Command {
    let mut command = Command::new(binary("debug"));
    command
        .args(["serve", "governance"])
        .env("OPENDATA_DATABASE__URL", &database.url)
        .env("OPENDATA_NATS__URL", nats_url())
        .env("OPENDATA_NATS__PREFIX", &database.prefix)
        .env("OPENDATA_LISTEN", format!("127.0.0.1:{port}"))
        .env("OPENDATA_GOVERNANCE__BOOTSTRAP_ADMIN_KEY", admin_key)
        .env("OPENDATA_GOVERNANCE__PUBLIC_DATASETS__ENABLED", "false")
        .env("OPENDATA_TELEMETRY__LOG_FILTER", "warn")
        .kill_on_drop(true);
    command
}

/// The command-line tool with `args`, its output once it exits.
async fn cli(args: &[&str]) -> Output {
    tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(binary("debug"))
            .args(args)
            .env_remove("OPENDATA_KEY")
            .env_remove("OPENDATA_CA_FILE")
            .output(),
    )
    .await
    .expect("the command-line tool finishes")
    .expect("run the command-line tool")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test]
async fn agencies_reach_a_tls_server_trusting_its_ca_and_nothing_else_gets_through() {
    let certificates = Certificates::issue();
    let database = TestDatabase::create().await;
    let admin_key = format!("odk_test_admin_{}", Uuid::now_v7().simple());
    let port = free_port();
    let mut server = governance(&database, port, &admin_key)
        .env("OPENDATA_TLS__CERT_FILE", &certificates.cert)
        .env("OPENDATA_TLS__KEY_FILE", &certificates.key)
        .spawn()
        .expect("start opendata serve governance");

    let https = format!("https://localhost:{port}");
    let trusted = [
        "--governance-url",
        &https,
        "--ca-file",
        path(&certificates.ca),
        "--key",
        &admin_key,
    ];
    let create = [
        "agency",
        "create",
        "--id",
        "tlsa",
        "--name",
        "Agency over TLS",
    ];
    // The server migrates before it listens: retry until it answers.
    let mut created = None;
    for _ in 0..60 {
        let output = cli(&[&trusted[..], &create[..]].concat()).await;
        if output.status.success() {
            created = Some(output);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let created = created.expect("an agency is created over TLS within 30 s");
    assert!(text(&created).contains("tlsa"), "{}", text(&created));
    let listed = cli(&[&trusted[..], &["agency", "list"][..]].concat()).await;
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(
        text(&listed).contains("Agency over TLS"),
        "{}",
        text(&listed)
    );

    // Without the private CA the certificate is not trusted.
    let untrusted = cli(&[
        "--governance-url",
        &https,
        "--key",
        &admin_key,
        "agency",
        "list",
    ])
    .await;
    assert!(!untrusted.status.success(), "{}", text(&untrusted));
    assert!(
        text(&untrusted).to_lowercase().contains("certificate"),
        "the failure names the certificate: {}",
        text(&untrusted)
    );
    // Plaintext to the TLS port gets nowhere.
    let plaintext = cli(&[
        "--governance-url",
        &format!("http://localhost:{port}"),
        "--key",
        &admin_key,
        "agency",
        "list",
    ])
    .await;
    assert!(!plaintext.status.success(), "{}", text(&plaintext));
    assert!(!text(&plaintext).contains("Agency over TLS"));
    // A CA for a plaintext URL is a mistake the tool names.
    let mixed = cli(&[
        "--governance-url",
        &format!("http://localhost:{port}"),
        "--ca-file",
        path(&certificates.ca),
        "agency",
        "list",
    ])
    .await;
    assert!(!mixed.status.success());
    assert!(text(&mixed).contains("use https://"), "{}", text(&mixed));
    let missing = cli(&[
        "--governance-url",
        &https,
        "--ca-file",
        "/nonexistent/ca.crt",
        "agency",
        "list",
    ])
    .await;
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("--ca-file /nonexistent/ca.crt"),
        "{}",
        text(&missing)
    );

    let not_pem = certificates.dir.join("not-pem.crt");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let garbled = cli(&[
        "--governance-url",
        &https,
        "--ca-file",
        path(&not_pem),
        "agency",
        "list",
    ])
    .await;
    assert!(!garbled.status.success());
    assert!(
        text(&garbled).contains("no PEM certificate"),
        "{}",
        text(&garbled)
    );

    server.start_kill().unwrap();
    let _ = server.wait().await;
    database.drop_all().await;
}

#[tokio::test]
async fn a_half_configured_or_unreadable_certificate_stops_start_up_naming_it() {
    let certificates = Certificates::issue();
    let database = TestDatabase::create().await;
    let not_pem = certificates.dir.join("not-pem.crt");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let cases: [(&[(&str, &Path)], &str); 4] = [
        (
            &[("OPENDATA_TLS__CERT_FILE", &certificates.cert)],
            "tls.key_file",
        ),
        (
            &[("OPENDATA_TLS__KEY_FILE", &certificates.key)],
            "tls.cert_file",
        ),
        (
            &[
                ("OPENDATA_TLS__CERT_FILE", Path::new("/nonexistent/tls.crt")),
                ("OPENDATA_TLS__KEY_FILE", &certificates.key),
            ],
            "/nonexistent/tls.crt",
        ),
        (
            &[
                ("OPENDATA_TLS__CERT_FILE", &not_pem),
                ("OPENDATA_TLS__KEY_FILE", &certificates.key),
            ],
            "tls.cert_file",
        ),
    ];
    for (settings, named) in cases {
        let mut command = governance(&database, free_port(), "odk_unused");
        for (name, value) in settings {
            command.env(name, value);
        }
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("start-up stops")
            .unwrap();
        assert!(!output.status.success(), "{settings:?} must stop start-up");
        assert!(
            text(&output).contains(named),
            "{settings:?}: the error names {named}: {}",
            text(&output)
        );
    }
    database.drop_all().await;
}
