//! App tokens and rate limits on the public API. A caller is identified by its app token
//! (`X-App-Token` header or `$$app_token` parameter, checked with governance) or, without one, by
//! its IP address; each gets a quota per minute from configuration, tokens a higher one, and may
//! have only a few requests in flight at once. Over quota is `429 Too Many Requests` with
//! `Retry-After`, in Socrata's error shape, naming the limit.
//!
//! An invalid app token is refused (`403`) and spends its address's quota, so guessing tokens is
//! rate limited like anything else; governance's answer is remembered, so a flood of them costs
//! one lookup each per cache period.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use opendata_limits::{
    AWARD_EXPORTS_PER_CALLER, IN_FLIGHT_PER_ADDRESS, IN_FLIGHT_PER_TOKEN, PER_MINUTE_PER_ADDRESS,
    PER_MINUTE_PER_TOKEN,
};
use opendata_platform::auth::Authenticator;
use opendata_platform::error::{ApiError, ErrorCode};
use opendata_platform::in_flight::{InFlight, InFlightGuard};
use serde::Deserialize;

use crate::error::SodaError;
use crate::held_body::held_until_sent;
use crate::state::EdgeState;

/// Quotas, from configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Limit requests at all.
    pub enabled: bool,
    /// Requests per minute for each IP address without an app token.
    pub anonymous_per_minute: u32,
    /// Requests per minute for each app token.
    pub token_per_minute: u32,
    /// Requests one IP address without an app token may have in flight at once.
    pub in_flight_per_address: u32,
    /// Requests one app token may have in flight at once.
    pub in_flight_per_token: u32,
    /// The edge runs behind one trusted proxy (an ingress) that appends the client's address to
    /// `X-Forwarded-For`: take the client address from its last entry, the one the proxy wrote.
    /// Earlier entries are the client's own say and are never trusted.
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            anonymous_per_minute: PER_MINUTE_PER_ADDRESS.value as u32,
            token_per_minute: PER_MINUTE_PER_TOKEN.value as u32,
            in_flight_per_address: IN_FLIGHT_PER_ADDRESS.value as u32,
            in_flight_per_token: IN_FLIGHT_PER_TOKEN.value as u32,
            trust_forwarded_for: false,
        }
    }
}

/// How often callers with full buckets are forgotten.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Who is calling, for quotas; the middleware leaves it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// Without an app token: the client's address (an IPv6 client's /64).
    Address(IpAddr),
    /// With an app token: the token's principal.
    Token(String),
}

/// An app token governance accepted, for the handlers to pass on (the catalog gives token holders
/// longer queries).
#[derive(Debug, Clone)]
pub struct AppToken(pub String);

/// The limiters and the token check.
pub struct RateLimits {
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
    tokens: DefaultKeyedRateLimiter<String>,
    in_flight: InFlight<Caller>,
    downloads: InFlight<Caller>,
    settings: RateLimitSettings,
    authenticator: Authenticator,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    /// Limits with these settings, checking tokens with `authenticator`.
    pub fn new(settings: &RateLimitSettings, authenticator: Authenticator) -> Arc<RateLimits> {
        Arc::new(RateLimits {
            anonymous: RateLimiter::keyed(quota(settings.anonymous_per_minute)),
            tokens: RateLimiter::keyed(quota(settings.token_per_minute)),
            in_flight: InFlight::default(),
            downloads: InFlight::default(),
            settings: settings.clone(),
            authenticator,
        })
    }

    /// Forgets callers whose buckets are full again, so memory stays bounded; run every
    /// [`PRUNE_INTERVAL`].
    pub fn prune(&self) {
        self.anonymous.retain_recent();
        self.tokens.retain_recent();
    }

    fn check(&self, caller: &Caller) -> Result<(), Duration> {
        let clock = DefaultClock::default();
        let outcome = match caller {
            Caller::Address(address) => self.anonymous.check_key(address),
            Caller::Token(token) => self.tokens.check_key(token),
        };
        outcome.map_err(|not_until| not_until.wait_time_from(clock.now()))
    }

    fn max_in_flight(&self, caller: &Caller) -> u32 {
        match caller {
            Caller::Address(_) => self.settings.in_flight_per_address,
            Caller::Token(_) => self.settings.in_flight_per_token,
        }
    }
}

/// The app token a request carries, if any.
fn app_token(request: &Request) -> Option<String> {
    if let Some(token) = request
        .headers()
        .get("x-app-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(token.trim().to_owned()).filter(|t| !t.is_empty());
    }
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "$$app_token")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The client's address: the peer's, or behind a trusted proxy the last `X-Forwarded-For` entry
/// (the one the proxy appended; anything before it the client could have written).
fn client_address(request: &Request, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| {
            request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .next_back()?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .flatten();
    forwarded
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip())
        })
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// What an address is counted by: itself, or for IPv6 its /64, which one subscriber holds whole
/// (rotating through it must not multiply a quota).
pub(crate) fn quota_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
        v4 => v4,
    }
}

/// A `429` naming the limit, with `Retry-After`.
fn too_many(limit: &str, message: &str, wait: Duration) -> Response {
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut response = SodaError(
        ApiError::new(ErrorCode::RateLimited, message)
            .with("retry_after_seconds", seconds)
            .with("limit", limit),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The middleware.
pub async fn limit(State(state): State<EdgeState>, mut request: Request, next: Next) -> Response {
    let Some(limits) = state.rate_limits().cloned() else {
        return next.run(request).await;
    };
    let address = Caller::Address(quota_key(client_address(
        &request,
        limits.settings.trust_forwarded_for,
    )));
    let caller = match app_token(&request) {
        Some(token) => {
            let vouched = match limits.authenticator.known(&token) {
                Some(principal) => Ok(principal),
                None => {
                    // A token governance has not vouched for lately costs it a lookup: the
                    // address pays for that, so guessing tokens is as slow as anything else.
                    if let Err(wait) = limits.check(&address) {
                        return too_many(
                            PER_MINUTE_PER_ADDRESS.name,
                            "too many requests from this address",
                            wait,
                        );
                    }
                    limits.authenticator.authenticate(&token).await
                }
            };
            match vouched {
                Ok(principal) => {
                    request.extensions_mut().insert(AppToken(token));
                    Caller::Token(principal.id)
                }
                Err(error) if error.code == ErrorCode::Unauthenticated => {
                    return SodaError(ApiError::new(
                        ErrorCode::PermissionDenied,
                        "invalid app token",
                    ))
                    .into_response();
                }
                Err(error) => return SodaError(error).into_response(),
            }
        }
        None => address,
    };
    if let Err(wait) = limits.check(&caller) {
        let (limit, message) = match caller {
            Caller::Address(_) => (
                PER_MINUTE_PER_ADDRESS.name,
                "too many requests from this address; send an app token (X-App-Token) for a higher quota",
            ),
            Caller::Token(_) => (
                PER_MINUTE_PER_TOKEN.name,
                "too many requests for this app token",
            ),
        };
        return too_many(limit, message, wait);
    }
    let Some(guard) = limits
        .in_flight
        .enter(&caller, limits.max_in_flight(&caller))
    else {
        let (limit, message) = match caller {
            Caller::Address(_) => (
                IN_FLIGHT_PER_ADDRESS.name,
                "this address already has as many requests in flight as it may; wait for one to finish",
            ),
            Caller::Token(_) => (
                IN_FLIGHT_PER_TOKEN.name,
                "this app token already has as many requests in flight as it may; wait for one to finish",
            ),
        };
        return too_many(limit, message, Duration::from_secs(1));
    };
    request.extensions_mut().insert(caller);
    held_until_sent(next.run(request).await, guard)
}

/// A turn at whole-table downloads for `caller`, to hold until the download's last byte: each
/// caller streams at most [`AWARD_EXPORTS_PER_CALLER`] at once (the places behind them are few
/// and shared by everyone). No turn is needed when limits are off.
pub fn download_turn(
    state: &EdgeState,
    caller: Option<&Caller>,
) -> Result<Option<InFlightGuard<Caller>>, DownloadStreaming> {
    let (Some(limits), Some(caller)) = (state.rate_limits(), caller) else {
        return Ok(None);
    };
    limits
        .downloads
        .enter(caller, AWARD_EXPORTS_PER_CALLER.value as u32)
        .map(Some)
        .ok_or(DownloadStreaming)
}

/// The caller already streams its downloads: a 429.
#[derive(Debug)]
pub struct DownloadStreaming;

impl IntoResponse for DownloadStreaming {
    fn into_response(self) -> Response {
        too_many(
            AWARD_EXPORTS_PER_CALLER.name,
            "a download of this table is already streaming for this caller; wait for it to finish",
            Duration::from_secs(5),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(forwarded: &[&str]) -> Request {
        let mut builder = Request::builder().uri("/resource/abcd-1234.json");
        for value in forwarded {
            builder = builder.header("x-forwarded-for", *value);
        }
        let mut request = builder.body(axum::body::Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 5555))));
        request
    }

    #[test]
    fn an_ipv6_subscriber_counts_as_one_address() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(quota_key(one), quota_key(other));
        let neighbour: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_ne!(quota_key(one), quota_key(neighbour));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(quota_key(mapped), IpAddr::from([203, 0, 113, 7]));
    }

    #[test]
    fn only_the_entry_the_trusted_proxy_appended_counts() {
        let spoofed = request(&["1.2.3.4, 203.0.113.7"]);
        assert_eq!(
            client_address(&spoofed, true),
            IpAddr::from([203, 0, 113, 7])
        );
        let two_headers = request(&["1.2.3.4", "198.51.100.2"]);
        assert_eq!(
            client_address(&two_headers, true),
            IpAddr::from([198, 51, 100, 2])
        );
        assert_eq!(
            client_address(&spoofed, false),
            IpAddr::from([10, 0, 0, 9]),
            "without a trusted proxy the header is ignored"
        );
        assert_eq!(
            client_address(&request(&["garbage"]), true),
            IpAddr::from([10, 0, 0, 9])
        );
    }
}
