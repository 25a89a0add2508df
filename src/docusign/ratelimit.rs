//! Pacing inside Docusign's per-account budget.
//!
//! One limiter per integration covers all of its API calls. Two brakes:
//! - our own share of the budget, a `governor` GCRA quota (`per_hour` with a `burst`);
//! - what Docusign reports: `X-RateLimit-Remaining` at or below the `reserve` (or a 429)
//!   blocks every call of the integration until `X-RateLimit-Reset` (`Retry-After` when a
//!   proxy sends one); a nearly spent burst budget spaces calls out.

use crate::docusign::Api;
use crate::telemetry::events::RateLimitWaited;
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
    pub fn new(integration: &str, settings: RateLimitSettings) -> Self {
        let per_hour = NonZeroU32::new(settings.per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_hour(per_hour).allow_burst(burst);
        RateLimiter {
            integration: integration.to_string(),
            settings,
            quota: governor::RateLimiter::direct(quota),
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
        self.quota.until_ready().await;
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
                _ => now + Duration::from_secs(60),
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
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn epoch_in(secs: u64) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + secs
    }

    #[test]
    fn a_429_blocks_until_the_reset_header() {
        let l = RateLimiter::new("t", RateLimitSettings::default());
        assert!(l.blocked_until().is_none());
        l.observe(
            Api::Monitor,
            429,
            &headers(&[("x-ratelimit-reset", epoch_in(30).to_string())]),
        );
        let until = l.blocked_until().expect("blocked");
        let wait = until.duration_since(SystemTime::now()).unwrap();
        assert!(
            wait > Duration::from_secs(28) && wait <= Duration::from_secs(32),
            "{wait:?}"
        );
    }

    #[test]
    fn retry_after_wins_over_reset() {
        let l = RateLimiter::new("t", RateLimitSettings::default());
        l.observe(
            Api::Admin,
            429,
            &headers(&[
                ("retry-after", "5".into()),
                ("x-ratelimit-reset", epoch_in(600).to_string()),
            ]),
        );
        let wait = l
            .blocked_until()
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(wait <= Duration::from_secs(5), "{wait:?}");
    }

    #[test]
    fn reaching_the_reserve_blocks_before_any_429() {
        let s = RateLimitSettings {
            reserve: 10,
            ..Default::default()
        };
        let l = RateLimiter::new("t", s);
        l.observe(
            Api::Monitor,
            200,
            &headers(&[
                ("x-ratelimit-remaining", "11".into()),
                ("x-ratelimit-reset", epoch_in(60).to_string()),
            ]),
        );
        assert!(l.blocked_until().is_none());
        l.observe(
            Api::Monitor,
            200,
            &headers(&[
                ("x-ratelimit-remaining", "10".into()),
                ("x-ratelimit-reset", epoch_in(60).to_string()),
            ]),
        );
        assert!(l.blocked_until().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn min_spacing_spaces_calls_to_one_api() {
        let s = RateLimitSettings {
            min_spacing: Duration::from_secs(2),
            ..Default::default()
        };
        let l = RateLimiter::new("t", s);
        let t0 = tokio::time::Instant::now();
        l.acquire(Api::Monitor).await;
        l.acquire(Api::Admin).await;
        assert!(
            t0.elapsed() < Duration::from_millis(100),
            "another API is not held back"
        );
        l.acquire(Api::Monitor).await;
        assert!(
            t0.elapsed() >= Duration::from_secs(2),
            "second monitor call waited {:?}",
            t0.elapsed()
        );
    }
}
