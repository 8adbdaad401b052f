//! Channels from one service to another, and from the command-line tool to the services, with TLS
//! for `https://` URLs.
//!
//! A service's [`channel`] spreads its calls over every replica of its peer: a URL whose host is
//! a name (the chart's headless Services) is resolved every [`RESOLVE_EVERY`], and the calls are
//! balanced over every address found, so the calls of one pod reach every ready replica and a
//! replica leaving (dropped from DNS during its preStop pause) takes no new calls. Until a first
//! resolution finds addresses, calls go to the name itself (so a name that does not resolve fails
//! them at once, as a plain channel would); a later resolution that fails or finds nothing keeps
//! the addresses already known. An IP address or `localhost` is connected to directly. The
//! command-line tool uses a [`direct_channel`]: one connection, to the URL as given.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tonic::transport::channel::Change;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Uri};

use crate::config::ConfigError;
use crate::grpc::TLS_HANDSHAKE_TIMEOUT;

/// How often a peer's name is resolved again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(3);

/// A service's channel to another service (see the module documentation). `https://` URLs are
/// verified against the system's roots (`SSL_CERT_FILE` names another bundle, as for OpenSSL).
pub fn channel(url: &str) -> Result<Channel, ConfigError> {
    let target = Target::parse(url, None)?;
    if target.host.parse::<IpAddr>().is_ok() || target.host == "localhost" {
        return Ok(target.endpoint(None)?.connect_lazy());
    }
    let (host, port) = (target.host.clone(), target.port());
    channel_resolving(target, move || {
        let host = host.clone();
        async move {
            tokio::net::lookup_host((host.as_str(), port))
                .await
                .map(Iterator::collect)
        }
    })
}

/// A lazily connecting channel to the URL as given, also trusting the PEM CA certificates `ca`
/// (a private CA's): the command-line tool's, whose calls go one at a time.
pub fn direct_channel(url: &str, ca: Option<&[u8]>) -> Result<Channel, ConfigError> {
    Ok(Target::parse(url, ca)?.endpoint(None)?.connect_lazy())
}

/// [`channel`] to `url` with its host's addresses found by `resolve` instead of DNS.
pub fn channel_over<R, F>(url: &str, resolve: R) -> Result<Channel, ConfigError>
where
    R: FnMut() -> F + Send + 'static,
    F: Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static,
{
    channel_resolving(Target::parse(url, None)?, resolve)
}

fn channel_resolving<R, F>(target: Target, resolve: R) -> Result<Channel, ConfigError>
where
    R: FnMut() -> F + Send + 'static,
    F: Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static,
{
    let by_name = target.endpoint(None)?;
    let (channel, changes) = Channel::balance_channel(64);
    tokio::spawn(follow(target, by_name, resolve, changes));
    Ok(channel)
}

/// Where calls may go: the URL's name itself, or one address it resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Name,
    Address(SocketAddr),
}

/// Keeps the balancer's endpoints in step with what `resolve` finds, until the channel is gone.
async fn follow<R, F>(
    target: Target,
    by_name: Endpoint,
    mut resolve: R,
    changes: Sender<Change<Key, Endpoint>>,
) where
    R: FnMut() -> F,
    F: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    if changes
        .send(Change::Insert(Key::Name, by_name))
        .await
        .is_err()
    {
        return;
    }
    let mut known: HashSet<SocketAddr> = HashSet::new();
    let mut failing = false;
    loop {
        let found: Option<HashSet<SocketAddr>> = match resolve().await {
            Ok(found) if !found.is_empty() => Some(found.into_iter().collect()),
            Ok(_) => None,
            Err(error) => {
                if !failing {
                    tracing::warn!(host = %target.host, %error, "a peer's name does not resolve; calls keep the addresses known");
                }
                None
            }
        };
        failing = found.is_none();
        if let Some(found) = found {
            let mut updates = Vec::new();
            for new in found.difference(&known) {
                match target.endpoint(Some(*new)) {
                    Ok(endpoint) => updates.push(Change::Insert(Key::Address(*new), endpoint)),
                    Err(error) => {
                        tracing::warn!(host = %target.host, address = %new, %error, "no endpoint")
                    }
                }
            }
            for gone in known.difference(&found) {
                updates.push(Change::Remove(Key::Address(*gone)));
            }
            if known.is_empty() {
                updates.push(Change::Remove(Key::Name));
            }
            for update in updates {
                // The channel is gone: nothing left to balance.
                if changes.send(update).await.is_err() {
                    return;
                }
            }
            known = found;
        }
        tokio::select! {
            () = changes.closed() => return,
            () = tokio::time::sleep(RESOLVE_EVERY) => {}
        }
    }
}

/// A parsed URL and how to speak to it.
struct Target {
    uri: Uri,
    url: String,
    host: String,
    tls: Option<ClientTlsConfig>,
}

impl Target {
    fn parse(url: &str, ca: Option<&[u8]>) -> Result<Target, ConfigError> {
        let uri: Uri = url
            .parse()
            .map_err(|error| ConfigError::invalid(url, error))?;
        let host = uri
            .host()
            .ok_or_else(|| ConfigError::invalid(url, "the URL names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = match (uri.scheme_str(), ca) {
            (Some("https"), ca) => Some(client_tls(url, &host, ca)?),
            (_, Some(_)) => {
                return Err(ConfigError::invalid(
                    url,
                    "a CA certificate was given for a URL without TLS: use https://",
                ));
            }
            (_, None) => None,
        };
        Ok(Target {
            uri,
            url: url.to_owned(),
            host,
            tls,
        })
    }

    fn port(&self) -> u16 {
        self.uri
            .port_u16()
            .unwrap_or(if self.tls.is_some() { 443 } else { 80 })
    }

    /// The endpoint of the URL, or of one `address` of its host (the URL stays the origin, so
    /// requests and TLS still name the host).
    fn endpoint(&self, address: Option<SocketAddr>) -> Result<Endpoint, ConfigError> {
        let target = match address {
            Some(address) => format!("{}://{address}", self.uri.scheme_str().unwrap_or("http")),
            None => self.url.clone(),
        };
        let mut endpoint = Endpoint::from_shared(target)
            .map_err(|error| ConfigError::invalid(&self.url, error))?
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if address.is_some() {
            endpoint = endpoint.origin(self.uri.clone());
        }
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|error| ConfigError::invalid(&self.url, error))?;
        }
        Ok(endpoint)
    }
}

fn client_tls(url: &str, host: &str, ca: Option<&[u8]>) -> Result<ClientTlsConfig, ConfigError> {
    let mut tls = ClientTlsConfig::new()
        .with_native_roots()
        .domain_name(host)
        .timeout(TLS_HANDSHAKE_TIMEOUT);
    if let Some(ca) = ca {
        if !is_pem_certificate(ca) {
            return Err(ConfigError::invalid(
                url,
                "the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            ));
        }
        tls = tls.ca_certificate(Certificate::from_pem(ca));
    }
    Ok(tls)
}

/// Whether `pem` holds at least one PEM certificate.
pub fn is_pem_certificate(pem: &[u8]) -> bool {
    pem.windows(27)
        .any(|window| window == b"-----BEGIN CERTIFICATE-----")
}
