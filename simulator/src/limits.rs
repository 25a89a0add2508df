//! Rate limits, injected faults, and the common path of every data API request.

use crate::core::{lock, Sim};
use crate::http::{Ctx, Kind, Resp};
use crate::knobs::{Api, Overlay};
use crate::{Faults, RateLimit};
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};
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

/// A one-shot answer queued for one API.
#[derive(Debug, Clone)]
enum Injection {
    /// Fail with this status.
    Status(u16),
    /// A 200 with this body instead of the expected JSON.
    Body(String),
}

struct FaultState {
    faults: Faults,
    next: VecDeque<u16>,
    per_api: HashMap<Api, VecDeque<Injection>>,
    rng: rand::rngs::StdRng,
    /// One-shot delays for the next requests (slow answers), before `faults.delay`.
    slow_next: VecDeque<Duration>,
    /// `headers_next`: laid over the next answers of one API.
    overlays: HashMap<Api, VecDeque<Overlay>>,
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
                per_api: HashMap::new(),
                slow_next: VecDeque::new(),
                overlays: HashMap::new(),
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

    pub(crate) fn fail_next_on(&self, api: Api, n: usize, status: u16) {
        self.queue(api, n, Injection::Status(status));
    }

    pub(crate) fn garble_next(&self, api: Api, n: usize, body: &str) {
        self.queue(api, n, Injection::Body(body.to_string()));
    }

    fn queue(&self, api: Api, n: usize, what: Injection) {
        let mut f = lock(&self.faults);
        let q = f.per_api.entry(api).or_default();
        q.extend(std::iter::repeat_n(what, n));
    }

    pub(crate) fn headers_next(&self, api: Api, n: usize, overlay: Overlay) {
        let mut f = lock(&self.faults);
        let q = f.overlays.entry(api).or_default();
        q.extend(std::iter::repeat_n(overlay, n));
    }

    fn overlay(&self, api: Option<Api>) -> Option<Overlay> {
        lock(&self.faults).overlays.get_mut(&api?)?.pop_front()
    }

    pub(crate) fn delay_next(&self, n: usize, delay: Duration) {
        let mut f = lock(&self.faults);
        for _ in 0..n {
            f.slow_next.push_back(delay);
        }
    }

    /// Count one call of `api`; returns whether it is allowed, and the headers to send.
    fn count(&self, api: Option<Api>) -> (Option<Resp>, Vec<(&'static str, String)>) {
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
                rate_limited(api, l.limit)
            } else {
                Resp::api_error(
                    api,
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

    /// An injected answer for this request of `api`, if any: per-API queue, then `fail_next`, then
    /// the random error rate.
    fn injected(&self, api: Option<Api>) -> Option<Injection> {
        let mut f = lock(&self.faults);
        if let Some(i) = api.and_then(|a| f.per_api.get_mut(&a)?.pop_front()) {
            return Some(i);
        }
        random_or_next(&mut f).map(Injection::Status)
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

/// `fail_next`, then the random error rate.
fn random_or_next(f: &mut FaultState) -> Option<u16> {
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

/// The 429 body Docusign sends when the hourly budget is spent (in `api`'s error shape).
pub(crate) fn rate_limited(api: Option<Api>, limit: u32) -> Resp {
    Resp::api_error(
        api,
        429,
        "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
        &format!(
            "The maximum number of hourly API invocations has been exceeded. The hourly limit is {limit}."
        ),
    )
}

fn injected_error(api: Option<Api>, status: u16) -> Resp {
    let (code, message) = match status {
        429 => return rate_limited(api, 3000),
        401 => (
            "AUTHORIZATION_INVALID_TOKEN",
            "The access token provided is expired, revoked or malformed.",
        ),
        503 => (
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable.",
        ),
        _ => (
            "UNSPECIFIED_ERROR",
            "An unexpected error occurred while processing the request.",
        ),
    };
    Resp::api_error(api, status, code, message)
}

/// A 200 whose body is not the expected JSON.
fn garbled(body: String) -> Resp {
    let html = body.trim_start().starts_with('<');
    Resp {
        content_type: if html {
            "text/html; charset=utf-8"
        } else {
            "application/json; charset=utf-8"
        },
        ..Resp::raw_json(200, body.into_bytes())
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
        if let Kind::EsignList(_) = kind {
            sim.bump(|s| s.esign_list += 1);
        }
        None
    };
    let api = kind.api();
    let (refusal, headers) = sim.limits.count(api);
    let overlay = sim.limits.overlay(api);
    let mut resp = if let Some(r) = refusal {
        r
    } else if let Some(status) = overlay.as_ref().and_then(|o| o.status) {
        sim.bump(|s| s.faults_injected += 1);
        injected_error(api, status)
    } else if let Some(injection) = sim.limits.injected(api) {
        match injection {
            Injection::Status(status) => {
                sim.bump(|s| s.faults_injected += 1);
                injected_error(api, status)
            }
            Injection::Body(body) => {
                sim.bump(|s| s.garbled += 1);
                garbled(body)
            }
        }
    } else {
        let delay = sim.limits.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut r = match kind {
            Kind::Monitor => crate::monitor::stream(sim, ctx, None),
            Kind::MonitorV1(org) => crate::monitor::stream(sim, ctx, Some(org)),
            Kind::AdminUsers(org) => crate::admin::users(sim, ctx, org),
            Kind::EsignUser(acc, user) => crate::esign::user(sim, ctx, acc, user),
            Kind::EsignList(acc) => crate::esign::list(sim, ctx, acc),
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
    if let Some(o) = overlay {
        resp.headers
            .retain(|(k, _)| !o.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)));
        resp.headers.extend(o.headers);
    }
    resp
}
