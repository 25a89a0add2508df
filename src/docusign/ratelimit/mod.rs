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
use crate::support::clock::now_system;
use crate::telemetry::events::RateLimitWaited;
mod answer;
mod fair;

use answer::Reset;
pub use answer::{MAX_WAIT, RESET_MARGIN};
use fair::FairGate;
use governor::{DefaultDirectRateLimiter, Quota};
use reqwest::header::HeaderMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
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
    /// The longest wait one answer (`Retry-After`, `X-RateLimit-Reset`) may impose; longer
    /// ones are clamped to it and logged. At most [`MAX_WAIT`].
    pub max_wait: Duration,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_hour: 1000,
            burst: 50,
            reserve: 100,
            min_spacing: Duration::ZERO,
            max_wait: MAX_WAIT,
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
        let settings = RateLimitSettings {
            max_wait: settings.max_wait.min(MAX_WAIT),
            ..settings
        };
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
            .and_then(|t| now_system().checked_add(t - now))
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
                        let spacing = self.settings.min_spacing;
                        let left = last
                            .checked_add(spacing)
                            .map_or(spacing, |next| next.saturating_duration_since(now));
                        wait = wait.max(left);
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

    /// Learn from a response's status and rate-limit headers. Every wait an answer imposes is
    /// at most `max_wait` (plus [`RESET_MARGIN`] for a reset); a longer one is clamped and logged.
    pub fn observe(&self, _api: Api, status: u16, headers: &HeaderMap) {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let now = now_system();
        let max = self.settings.max_wait;
        let remaining = text("x-ratelimit-remaining").and_then(answer::int);
        let reset_raw = text("x-ratelimit-reset");
        let reset = reset_raw.and_then(|r| answer::reset(r, now, max));
        // Clamped waits are logged once per answer, naming the header and its value (cut).
        let clamped = |header: &str, raw: &str| {
            tracing::warn!(integration = %self.integration, header, value = %answer::cut(raw), max_wait_s = max.as_secs_f64(), "Docusign's answer asks for a wait longer than the longest allowed: waiting {} instead", humantime::format_duration(max));
            max
        };
        let until_reset = |r: Reset| match r {
            Reset::Past => None,
            Reset::In(d) => Some(d.saturating_add(RESET_MARGIN)),
            Reset::Beyond => Some(
                clamped("X-RateLimit-Reset", reset_raw.unwrap_or_default())
                    .saturating_add(RESET_MARGIN),
            ),
        };
        let mut block: Option<Duration> = None;
        if status == 429 {
            let retry_raw = text("retry-after");
            let retry_after = retry_raw.and_then(|r| answer::retry_after(r, now, max));
            block = Some(match (retry_after, reset) {
                (Some(Some(d)), _) => d,
                (Some(None), _) => clamped("Retry-After", retry_raw.unwrap_or_default()),
                // A reset already past: our clock is ahead of Docusign's, or the budget has
                // just been renewed. Wait briefly, with jitter so integrations do not line up.
                (None, Some(Reset::Past)) => past_reset_wait(),
                (None, Some(r)) => until_reset(r).unwrap_or_else(past_reset_wait),
                (None, None) => Duration::from_secs(60).min(max),
            });
            tracing::warn!(integration = %self.integration, wait_s = block.unwrap_or_default().as_secs_f64(), "Docusign rate limit reached (429); pausing this integration until the budget resets");
        } else if let (Some(rem), Some(r)) = (remaining, reset) {
            if rem <= i64::from(self.settings.reserve) {
                block = until_reset(r);
                if let Some(wait) = block {
                    tracing::info!(integration = %self.integration, remaining = rem, reserve = self.settings.reserve, wait_s = wait.as_secs_f64(), "hourly budget down to the reserve; pausing until it resets");
                }
            }
        }
        if block.is_none() {
            let burst_remaining = text("x-burstlimit-remaining").and_then(answer::int);
            if burst_remaining.is_some_and(|b| b <= 1) {
                // The 30-second burst window is nearly spent: space the next call out.
                block = Some(Duration::from_secs(1));
            }
        }
        if let Some(wait) = block {
            let at = Instant::now();
            // `wait` is at most an hour and a quarter second, so this cannot overflow; were it
            // ever to, the block is dropped rather than the process panicking.
            let Some(b) = at.checked_add(wait) else {
                return;
            };
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

#[cfg(test)]
mod tests;
