//! Pacing inside Docusign's per-account budget.
//!
//! One limiter per integration covers all of its API calls. Two brakes:
//! - our own share of the budget, a `governor` GCRA quota (`per_hour` with a `burst`);
//! - what Docusign reports: `X-RateLimit-Remaining` at or below the `reserve` (or a 429)
//!   blocks every call of the integration until `X-RateLimit-Reset` (`Retry-After` when a
//!   proxy sends one); a nearly spent burst budget spaces calls out.
//!
//! Within the quota the customer-events (Monitor) stream goes first ([`fair`]): an audit-user
//! load never starves it.

use crate::docusign::Api;
use crate::telemetry::events::RateLimitWaited;
mod fair;

use fair::FairGate;
use governor::{DefaultDirectRateLimiter, Quota};
use reqwest::header::HeaderMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Settings for one integration's limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitSettings {
    /// Calls per hour this integration may make (its share of the account's budget).
    pub per_hour: u32,
    /// Calls that may go out back to back.
    pub burst: u32,
    /// Calls left to other apps: at `X-RateLimit-Remaining <= reserve` the integration waits for the reset.
    pub reserve: u32,
    /// Minimum time between two calls to the same API (zero = none).
    pub min_spacing: Duration,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_hour: 1000,
            burst: 50,
            reserve: 100,
            min_spacing: Duration::ZERO,
        }
    }
}

#[derive(Debug, Default)]
struct Observed {
    /// Nothing calls before this moment.
    blocked_until: Option<Instant>,
    /// Last call per API (for `min_spacing`).
    last_call: [Option<Instant>; 3],
}

/// The limiter shared by all API clients of one integration.
pub struct RateLimiter {
    integration: String,
    settings: RateLimitSettings,
    quota: DefaultDirectRateLimiter,
    fair: FairGate,
    observed: Mutex<Observed>,
}

fn api_index(api: Api) -> usize {
    match api {
        Api::Monitor => 0,
        Api::Admin => 1,
        Api::ESignature => 2,
    }
}

impl RateLimiter {
    /// A limiter for `integration` (named in logs) with `settings`.
    pub fn new(integration: &str, settings: RateLimitSettings) -> Self {
        let per_hour = NonZeroU32::new(settings.per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_hour(per_hour).allow_burst(burst);
        RateLimiter {
            integration: integration.to_string(),
            settings,
            quota: governor::RateLimiter::direct(quota),
            fair: FairGate::default(),
            observed: Mutex::new(Observed::default()),
        }
    }

    /// When calls may resume after a 429 or an exhausted budget (None = not blocked).
    pub fn blocked_until(&self) -> Option<SystemTime> {
        let o = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        o.blocked_until
            .filter(|t| *t > now)
            .map(|t| SystemTime::now() + (t - now))
    }

    /// Wait until a call to `api` is allowed.
    pub async fn acquire(&self, api: Api) {
        let started = Instant::now();
        loop {
            let wait = {
                let mut o = self.observed.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let mut wait = o
                    .blocked_until
                    .map(|t| t.saturating_duration_since(now))
                    .unwrap_or_default();
                if !self.settings.min_spacing.is_zero() {
                    if let Some(last) = o.last_call[api_index(api)] {
                        let next = last + self.settings.min_spacing;
                        wait = wait.max(next.saturating_duration_since(now));
                    }
                }
                if wait.is_zero() {
                    o.last_call[api_index(api)] = Some(now);
                }
                wait
            };
            if wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        {
            let _turn = self.fair.turn(api).await;
            self.quota.until_ready().await;
        }
        let waited = started.elapsed();
        if waited >= Duration::from_millis(50) {
            RateLimitWaited {
                integration: &self.integration,
                waited,
            }
            .emit();
        }
    }

    /// Learn from a response's status and rate-limit headers.
    pub fn observe(&self, _api: Api, status: u16, headers: &HeaderMap) {
        let num =
            |name: &str| -> Option<i64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let remaining = num("x-ratelimit-remaining");
        let reset = num("x-ratelimit-reset")
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| UNIX_EPOCH + Duration::from_secs(s));
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let burst_remaining = num("x-burstlimit-remaining");
        let now = SystemTime::now();
        // A quarter second past the announced reset: Docusign's clock and ours differ a little.
        let margin = Duration::from_millis(250);
        let mut block: Option<SystemTime> = None;
        if status == 429 {
            block = Some(match (retry_after, reset) {
                (Some(d), _) => now + d,
                (None, Some(r)) if r > now => r + margin,
                // A reset already past: our clock is ahead of Docusign's, or the budget has
                // just been renewed. Wait briefly, with jitter so integrations do not line up.
                (None, Some(_)) => now + past_reset_wait(),
                (None, None) => now + Duration::from_secs(60),
            });
            tracing::warn!(integration = %self.integration, wait_s = block.and_then(|b| b.duration_since(now).ok()).map(|d| d.as_secs_f64()).unwrap_or(0.0), "Docusign rate limit reached (429); pausing this integration until the budget resets");
        } else if let (Some(rem), Some(r)) = (remaining, reset) {
            if rem <= i64::from(self.settings.reserve) && r > now {
                block = Some(r + margin);
                tracing::info!(integration = %self.integration, remaining = rem, reserve = self.settings.reserve, "hourly budget down to the reserve; pausing until it resets");
            }
        }
        if block.is_none() {
            if let Some(b) = burst_remaining {
                if b <= 1 {
                    // The 30-second burst window is nearly spent: space the next call out.
                    block = Some(now + Duration::from_secs(1));
                }
            }
        }
        if let Some(b) = block {
            let b = Instant::now() + b.duration_since(now).unwrap_or_default();
            let mut o = self.observed.lock().unwrap_or_else(|p| p.into_inner());
            if o.blocked_until.is_none_or(|cur| cur < b) {
                o.blocked_until = Some(b);
            }
        }
    }
}

/// The wait after a 429 whose `X-RateLimit-Reset` is already past: 2 s plus up to 3 s of jitter.
fn past_reset_wait() -> Duration {
    use rand::Rng;
    Duration::from_secs(2) + Duration::from_millis(rand::thread_rng().gen_range(0..=3000))
}

/// `Retry-After`: delay seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let t = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(t.timestamp()).ok()?);
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests;
