//! App tokens and rate limits on the public API. A caller is identified by its app token
//! (`X-App-Token` header or `$$app_token` parameter, checked with governance) or, without one, by
//! its IP address; each gets a quota per minute from configuration, tokens a higher one. Over
//! quota is `429 Too Many Requests` with `Retry-After`, in Socrata's error shape.

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
use opendata_platform::auth::Authenticator;
use opendata_platform::error::{ApiError, ErrorCode};
use serde::Deserialize;

use crate::error::SodaError;
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
    /// Take the client address from the first `X-Forwarded-For` entry (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            anonymous_per_minute: 1000,
            token_per_minute: 20_000,
            trust_forwarded_for: false,
        }
    }
}

/// How often callers with full buckets are forgotten.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Who is calling, for quotas.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Caller {
    Address(IpAddr),
    Token(String),
}

/// The limiters and the token check.
pub struct RateLimits {
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
    tokens: DefaultKeyedRateLimiter<String>,
    authenticator: Authenticator,
    trust_forwarded_for: bool,
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
            authenticator,
            trust_forwarded_for: settings.trust_forwarded_for,
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

fn client_address(request: &Request, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| {
            request
                .headers()
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
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

/// The middleware.
pub async fn limit(State(state): State<EdgeState>, request: Request, next: Next) -> Response {
    let Some(limits) = state.rate_limits() else {
        return next.run(request).await;
    };
    let caller = match app_token(&request) {
        Some(token) => match limits.authenticator.authenticate(&token).await {
            Ok(principal) => Caller::Token(principal.id),
            Err(error) if error.code == ErrorCode::Unauthenticated => {
                return SodaError(ApiError::new(
                    ErrorCode::PermissionDenied,
                    "invalid app token",
                ))
                .into_response();
            }
            Err(error) => return SodaError(error).into_response(),
        },
        None => Caller::Address(client_address(&request, limits.trust_forwarded_for)),
    };
    match limits.check(&caller) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let message = match caller {
                Caller::Address(_) => {
                    "too many requests from this address; send an app token (X-App-Token) for a higher quota"
                }
                Caller::Token(_) => "too many requests for this app token",
            };
            let mut response = SodaError(
                ApiError::new(ErrorCode::RateLimited, message).with("retry_after_seconds", seconds),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}
