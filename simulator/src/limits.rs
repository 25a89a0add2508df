//! Rate limits, injected faults, and the common path of every data API request.

use super::core::{lock, Ctx, Kind, Resp, Sim};
use super::{Faults, RateLimit};
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

/// Limits shown when none is configured (never enforced).
const OPEN_LIMIT: RateLimit = RateLimit {
    limit: 1_000_000,
    window: Duration::from_secs(3600),
    burst_limit: 100_000,
    burst_window: Duration::from_secs(30),
};

#[derive(Default)]
struct Counter {
    window_start: u64,
    used: u32,
}

impl Counter {
    /// Roll to the window containing `now_ms`.
    fn roll(&mut self, now_ms: u64, window_ms: u64) {
        let start = now_ms - now_ms % window_ms.max(1);
        if start != self.window_start {
            self.window_start = start;
            self.used = 0;
        }
    }
}

struct RateState {
    limit: Option<RateLimit>,
    hourly: Counter,
    burst: Counter,
}

struct FaultState {
    faults: Faults,
    next: VecDeque<u16>,
    rng: rand::rngs::StdRng,
    /// One-shot delays for the next requests (slow answers), before `faults.delay`.
    slow_next: VecDeque<Duration>,
}

/// Rate-limit and fault knobs.
pub(crate) struct Limits {
    rate: Mutex<RateState>,
    faults: Mutex<FaultState>,
}

impl Limits {
    pub(crate) fn new(seed: u64) -> Limits {
        Limits {
            rate: Mutex::new(RateState {
                limit: None,
                hourly: Counter::default(),
                burst: Counter::default(),
            }),
            faults: Mutex::new(FaultState {
                faults: Faults::default(),
                next: VecDeque::new(),
                slow_next: VecDeque::new(),
                rng: rand::rngs::StdRng::seed_from_u64(seed ^ 0xFA17),
            }),
        }
    }

    pub(crate) fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut r = lock(&self.rate);
        r.limit = limit;
        r.hourly = Counter::default();
        r.burst = Counter::default();
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        lock(&self.faults).faults = faults;
    }

    pub(crate) fn fail_next(&self, n: usize, status: u16) {
        let mut f = lock(&self.faults);
        for _ in 0..n {
            f.next.push_back(status);
        }
    }

    pub(crate) fn delay_next(&self, n: usize, delay: Duration) {
        let mut f = lock(&self.faults);
        for _ in 0..n {
            f.slow_next.push_back(delay);
        }
    }

    /// Count one call; returns whether it is allowed, and the headers to send.
    fn count(&self) -> (Option<Resp>, Vec<(&'static str, String)>) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let mut r = lock(&self.rate);
        let enforced = r.limit.is_some();
        let l = r.limit.unwrap_or(OPEN_LIMIT);
        let win = (l.window.as_millis() as u64).max(1);
        let bwin = (l.burst_window.as_millis() as u64).max(1);
        r.hourly.roll(now_ms, win);
        r.burst.roll(now_ms, bwin);
        let over_hour = r.hourly.used >= l.limit;
        let over_burst = r.burst.used >= l.burst_limit;
        let refused = enforced && (over_hour || over_burst);
        if !refused {
            r.hourly.used += 1;
            r.burst.used += 1;
        }
        let reset_secs = (r.hourly.window_start + win).div_ceil(1000);
        let headers = vec![
            ("X-RateLimit-Limit", l.limit.to_string()),
            (
                "X-RateLimit-Remaining",
                l.limit.saturating_sub(r.hourly.used).to_string(),
            ),
            ("X-RateLimit-Reset", reset_secs.to_string()),
            ("X-BurstLimit-Limit", l.burst_limit.to_string()),
            (
                "X-BurstLimit-Remaining",
                l.burst_limit.saturating_sub(r.burst.used).to_string(),
            ),
        ];
        let refusal = refused.then(|| {
            if over_hour {
                rate_limited_body(l.limit)
            } else {
                Resp::error(
                    429,
                    "BURST_APIINVOCATION_LIMIT_EXCEEDED",
                    &format!(
                        "The maximum number of burst API invocations has been exceeded. The burst limit is {}.",
                        l.burst_limit
                    ),
                )
            }
        });
        (refusal, headers)
    }

    /// An injected error status for this request, if any.
    fn injected(&self) -> Option<u16> {
        let mut f = lock(&self.faults);
        if let Some(s) = f.next.pop_front() {
            return Some(s);
        }
        let rate = f.faults.error_rate;
        if rate > 0.0 && f.rng.gen_bool(rate.clamp(0.0, 1.0)) {
            let statuses = f.faults.error_statuses.clone();
            if statuses.is_empty() {
                return Some(500);
            }
            let i = f.rng.gen_range(0..statuses.len());
            return Some(statuses[i]);
        }
        None
    }

    fn delay(&self) -> Duration {
        let mut f = lock(&self.faults);
        match f.slow_next.pop_front() {
            Some(d) => d,
            None => f.faults.delay,
        }
    }

    fn truncate(&self) -> bool {
        let mut f = lock(&self.faults);
        let rate = f.faults.truncate_rate;
        rate > 0.0 && f.rng.gen_bool(rate.clamp(0.0, 1.0))
    }
}

/// The 429 body Docusign sends when the hourly budget is spent.
pub(crate) fn rate_limited_body(limit: u32) -> Resp {
    Resp::error(
        429,
        "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
        &format!(
            "The maximum number of hourly API invocations has been exceeded. The hourly limit is {limit}."
        ),
    )
}

fn injected_error(status: u16) -> Resp {
    match status {
        429 => rate_limited_body(3000),
        401 => Resp::error(
            401,
            "AUTHORIZATION_INVALID_TOKEN",
            "The access token provided is expired, revoked or malformed.",
        ),
        503 => Resp::error(
            503,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable.",
        ),
        s => Resp::error(
            s,
            "UNSPECIFIED_ERROR",
            "An unexpected error occurred while processing the request.",
        ),
    }
}

/// Decrements the eSignature in-flight counter when dropped.
struct InFlight<'a>(&'a Sim);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.esign_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The common path of a data API request: rate limit, faults, delay, handler, truncation, headers.
pub(crate) async fn api(sim: &Sim, kind: &Kind, ctx: &Ctx) -> Resp {
    let _guard = if let Kind::EsignUser(..) = kind {
        let now = sim.esign_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        sim.bump(|s| {
            s.esign_requests += 1;
            s.esign_max_in_flight = s.esign_max_in_flight.max(now);
        });
        Some(InFlight(sim))
    } else {
        None
    };
    let (refusal, headers) = sim.limits.count();
    let mut resp = if let Some(r) = refusal {
        r
    } else if let Some(status) = sim.limits.injected() {
        sim.bump(|s| s.faults_injected += 1);
        injected_error(status)
    } else {
        let delay = sim.limits.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut r = match kind {
            Kind::Monitor => super::monitor::stream(sim, ctx, None),
            Kind::MonitorV1(org) => super::monitor::stream(sim, ctx, Some(org)),
            Kind::AdminUsers(org) => super::admin::users(sim, ctx, org),
            Kind::EsignUser(acc, user) => super::admin::esign_user(sim, ctx, acc, user),
            _ => Resp::error(404, "RESOURCE_NOT_FOUND", "No such endpoint."),
        };
        if r.status == 200 && sim.limits.truncate() {
            let keep = r.body.len() / 2;
            r.body.truncate(keep);
            sim.bump(|s| s.truncated += 1);
        }
        r
    };
    resp.headers.extend(headers);
    resp
}
