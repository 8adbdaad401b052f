//! Channels from one service to another (and from the command-line tool to the services): TLS
//! for `https://` URLs, and calls spread over every replica.
//!
//! A URL whose host is a name (a headless Service, as the chart's are) is resolved every
//! [`RESOLVE_EVERY`] and the channel balances its calls over every address it resolves to
//! (tonic's power-of-two-choices balancer), so the calls of one pod reach every ready replica and
//! a replica leaving (dropped from DNS during its preStop pause) takes no new calls. An IP address
//! or `localhost` is connected to directly. A failed resolution keeps the addresses it had.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tonic::transport::channel::Change;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Uri};

use crate::config::ConfigError;
use crate::grpc::TLS_HANDSHAKE_TIMEOUT;

/// How often a service's name is resolved again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(3);

/// A lazily connecting channel to another service. `https://` URLs are verified against the
/// system's roots (`SSL_CERT_FILE` names another bundle, as for OpenSSL).
pub fn channel(url: &str) -> Result<Channel, ConfigError> {
    channel_trusting(url, None)
}

/// [`channel`], also trusting the PEM CA certificates `ca` (a private CA's, say).
pub fn channel_trusting(url: &str, ca: Option<&[u8]>) -> Result<Channel, ConfigError> {
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
    let spread = host.parse::<IpAddr>().is_err()
        && host != "localhost"
        && tokio::runtime::Handle::try_current().is_ok();
    if !spread {
        return Ok(endpoint(&uri, None, tls.as_ref())?.connect_lazy());
    }
    // Checked once here, so resolved addresses cannot fail to make an endpoint later.
    endpoint(&uri, None, tls.as_ref())?;
    let port = uri
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let resolve = move || {
        let host = host.clone();
        async move {
            tokio::net::lookup_host((host.as_str(), port))
                .await
                .map(Iterator::collect)
        }
    };
    Ok(spread_over(resolve, move |address| {
        endpoint(&uri, Some(address), tls.as_ref())
    }))
}

/// A channel balancing its calls over the addresses `resolve` returns, asked now and every
/// [`RESOLVE_EVERY`] for as long as the channel (or a clone) lives; `endpoint` makes the endpoint
/// of one address. Resolution that fails or finds nothing keeps the addresses already known.
pub fn spread_over<R, F>(
    resolve: R,
    endpoint: impl Fn(SocketAddr) -> Result<Endpoint, ConfigError> + Send + 'static,
) -> Channel
where
    R: FnMut() -> F + Send + 'static,
    F: Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static,
{
    let (channel, changes) = Channel::balance_channel(64);
    tokio::spawn(follow(resolve, endpoint, changes));
    channel
}

async fn follow<R, F>(
    mut resolve: R,
    endpoint: impl Fn(SocketAddr) -> Result<Endpoint, ConfigError>,
    changes: Sender<Change<SocketAddr, Endpoint>>,
) where
    R: FnMut() -> F,
    F: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let mut known: HashSet<SocketAddr> = HashSet::new();
    loop {
        match resolve().await {
            Ok(found) if !found.is_empty() => {
                let found: HashSet<SocketAddr> = found.into_iter().collect();
                let mut updates = Vec::new();
                for gone in known.difference(&found) {
                    updates.push(Change::Remove(*gone));
                }
                for new in found.difference(&known) {
                    match endpoint(*new) {
                        Ok(endpoint) => updates.push(Change::Insert(*new, endpoint)),
                        Err(error) => tracing::warn!(%error, address = %new, "no endpoint"),
                    }
                }
                for update in updates {
                    // The channel is gone: nothing left to balance.
                    if changes.send(update).await.is_err() {
                        return;
                    }
                }
                known = found;
            }
            Ok(_) => tracing::debug!("a service name resolved to nothing; keeping its addresses"),
            Err(error) => {
                tracing::warn!(%error, "a service name did not resolve; keeping its addresses")
            }
        }
        tokio::select! {
            () = changes.closed() => return,
            () = tokio::time::sleep(RESOLVE_EVERY) => {}
        }
    }
}

/// The endpoint for `uri`, or for one `address` of its host (keeping the URI as the origin, so
/// requests and TLS still name the host).
fn endpoint(
    uri: &Uri,
    address: Option<SocketAddr>,
    tls: Option<&ClientTlsConfig>,
) -> Result<Endpoint, ConfigError> {
    let url = uri.to_string();
    let target = match address {
        Some(address) => format!("{}://{address}", uri.scheme_str().unwrap_or("http")),
        None => url.clone(),
    };
    let mut endpoint = Endpoint::from_shared(target)
        .map_err(|error| ConfigError::invalid(&url, error))?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    if address.is_some() {
        endpoint = endpoint.origin(uri.clone());
    }
    if let Some(tls) = tls {
        endpoint = endpoint
            .tls_config(tls.clone())
            .map_err(|error| ConfigError::invalid(&url, error))?;
    }
    Ok(endpoint)
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
