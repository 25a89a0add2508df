//! Shared simulator state: events, users, tokens, consents, knobs, limits and counters.

use crate::data::{self, User};
use crate::events::{self, EventCtx};
use crate::knobs::Knobs;
use crate::{limits, Faults, RateLimit, SimConfig, SimStats};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

/// Lock a mutex, recovering from poisoning (state stays usable for tests).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    pub expires: Instant,
}

/// Simulator state shared by all requests.
pub(crate) struct Sim {
    pub cfg: SimConfig,
    pub base_url: String,
    pub other_account_id: String,
    pub event_ctx: EventCtx,
    /// Ingestion time of each event (100 ns ticks since the Unix epoch), non-decreasing.
    pub events: RwLock<Vec<i64>>,
    pub users: Mutex<Vec<User>>,
    /// Rotates through users for `modify_users`.
    pub modify_cursor: Mutex<usize>,
    /// Draws of the Admin listing order so far.
    pub shuffles: Mutex<u64>,
    pub knobs: Mutex<Knobs>,
    pub tokens: Mutex<HashMap<String, Token>>,
    pub consents: Mutex<HashMap<String, BTreeSet<String>>>,
    pub limits: limits::Limits,
    pub stats: Mutex<SimStats>,
    pub esign_in_flight: AtomicU64,
}

impl Sim {
    pub(crate) fn new(cfg: SimConfig, base_url: String) -> Sim {
        let now = data::now_ticks();
        let n = cfg.backlog_events as i64;
        let span = (cfg.backlog_span.as_nanos() / 100).min(i64::MAX as u128 / 4) as i64;
        let start = now - span;
        let events: Vec<i64> = (0..n)
            .map(|i| start + ((span as i128 * i as i128) / n.max(1) as i128) as i64)
            .collect();
        let users = data::initial_users(cfg.seed, cfg.users, data::now_secs());
        let ik = cfg
            .clients
            .first()
            .map(|c| c.integration_key.clone())
            .unwrap_or_default();
        let event_ctx = EventCtx::new(
            cfg.seed,
            &cfg.account_id,
            &cfg.organization_id,
            &ik,
            cfg.users as u64,
        );
        let consents = cfg
            .clients
            .iter()
            .map(|c| {
                (
                    c.integration_key.clone(),
                    c.consented_scopes.iter().cloned().collect(),
                )
            })
            .collect();
        let sim = Sim {
            other_account_id: data::uuid(data::h(cfg.seed, 1, 1), data::h(cfg.seed, 1, 2)),
            limits: limits::Limits::new(cfg.seed),
            event_ctx,
            base_url,
            events: RwLock::new(events),
            users: Mutex::new(users),
            modify_cursor: Mutex::new(0),
            shuffles: Mutex::new(0),
            knobs: Mutex::new(Knobs {
                esign_unknown_status: cfg.esign_unknown_status,
                esign_clock_offset: cfg.esign_clock_offset,
                esign_date_format: cfg.esign_date_format,
                admin_next: cfg.admin_next.clone(),
                admin_shuffle_each_request: cfg.admin_shuffle_each_request,
                base_uri: cfg.base_uri.clone(),
                date_skew: 0,
                admin_endless: false,
                admin_without_id: 0,
                esign_list_endless: false,
            }),
            tokens: Mutex::new(HashMap::new()),
            consents: Mutex::new(consents),
            stats: Mutex::new(SimStats::default()),
            esign_in_flight: AtomicU64::new(0),
            cfg,
        };
        sim.esign_forget_last(sim.cfg.esign_unknown_users);
        sim.mark_list_users(sim.cfg.esign_list_omitted, crate::users::ListMark::Omitted);
        sim.mark_list_users(sim.cfg.esign_list_undated, crate::users::ListMark::Undated);
        sim
    }

    /// The knobs' current values.
    pub(crate) fn knobs(&self) -> Knobs {
        lock(&self.knobs).clone()
    }

    /// Change the knobs.
    pub(crate) fn knob(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut lock(&self.knobs));
    }

    pub(crate) fn events_read(&self) -> std::sync::RwLockReadGuard<'_, Vec<i64>> {
        self.events.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn append_events(&self, n: usize) {
        let now = data::now_ticks();
        let mut ev = self.events.write().unwrap_or_else(|e| e.into_inner());
        let t = ev.last().copied().map_or(now, |last| last.max(now));
        let len = ev.len();
        ev.resize(len + n, t);
    }

    pub(crate) fn event_count(&self) -> usize {
        self.events_read().len()
    }

    pub(crate) fn event_ids(&self) -> Vec<String> {
        (0..self.event_count() as u64)
            .map(|i| events::event_id(self.cfg.seed, i))
            .collect()
    }

    pub(crate) fn set_consent(&self, ik: &str, scopes: BTreeSet<String>) {
        lock(&self.consents).insert(ik.to_string(), scopes);
    }

    pub(crate) fn add_consent(&self, ik: &str, scopes: impl IntoIterator<Item = String>) {
        lock(&self.consents)
            .entry(ik.to_string())
            .or_default()
            .extend(scopes);
    }

    pub(crate) fn revoke_tokens(&self) {
        lock(&self.tokens).clear();
    }

    pub(crate) fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.limits.set_rate_limit(limit);
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        self.limits.set_faults(faults);
    }

    pub(crate) fn delay_next(&self, n: usize, delay: std::time::Duration) {
        self.limits.delay_next(n, delay);
    }

    pub(crate) fn fail_next(&self, n: usize, status: u16) {
        self.limits.fail_next(n, status);
    }

    pub(crate) fn stats(&self) -> SimStats {
        lock(&self.stats).clone()
    }

    pub(crate) fn bump(&self, f: impl FnOnce(&mut SimStats)) {
        f(&mut lock(&self.stats));
    }
}

/// Append events continuously at `per_sec`.
pub(crate) async fn live_events(sim: Arc<Sim>, per_sec: f64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    let mut owed = 0.0f64;
    let mut last = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        owed += per_sec * now.duration_since(last).as_secs_f64();
        last = now;
        let whole = owed.floor();
        if whole >= 1.0 {
            owed -= whole;
            sim.append_events(whole as usize);
        }
    }
}
