//! One collection cycle per (integration, event type): fetch pages until caught up, deliver
//! each to every sink, save its cursor.
//!
//! Invariant: a page's cursor is saved only after every sink has accepted that page's records.
//! The next page is fetched while the current one is delivered (a channel of two pages bounds
//! memory); a crash at any point re-delivers at most the pages in flight and loses nothing.

use crate::auth::{key, now_unix, AuthError, Authenticator};
use crate::client::{build_http, ApiClient, ApiError, RetryPolicy};
use crate::config::{Config, IntegrationConfig};
use crate::metrics;
use crate::ratelimit::{RateLimitSettings, RateLimiter};
use crate::record::{Batch, EventType};
use crate::sinks::{Sink, SinkError};
use crate::sources::admin_users::{AdminUsersSource, Watermark};
use crate::sources::monitor::{MonitorPage, MonitorSource};
use crate::state::{State, StateError};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Pages fetched ahead of delivery.
const PAGES_IN_FLIGHT: usize = 2;

/// A shutdown signal: cheap to clone, fires once.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Fires the [`Shutdown`] signal.
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal fires.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                // Sender gone without firing: never resolves.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl ShutdownTrigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("integration {integration}: {message}")]
    Setup {
        integration: String,
        message: String,
    },
}

impl CycleError {
    /// Errors only an operator can fix (consent, wrong key, unknown integration key).
    pub fn is_permanent(&self) -> bool {
        matches!(self, CycleError::Api(ApiError::Auth(a)) if a.is_permanent())
            || matches!(self, CycleError::Setup { .. })
    }

    pub fn consent_required(&self) -> bool {
        matches!(
            self,
            CycleError::Api(ApiError::Auth(AuthError::ConsentRequired { .. }))
        )
    }
}

/// What a cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleStats {
    pub pages: u64,
    pub events: u64,
}

impl CycleStats {
    /// Count a page every sink accepted (here and in the process metrics).
    fn page_delivered(&mut self, integration: &str, et: EventType, events: u64) {
        self.pages += 1;
        self.events += events;
        let labels = vec![
            ("integration", integration.to_string()),
            ("event_type", et.as_str().to_string()),
        ];
        metrics::global().add("docusign_collector_pages_total", labels.clone(), 1.0);
        metrics::global().add("docusign_collector_events_total", labels, events as f64);
    }
}

/// Everything one integration needs at run time.
pub struct Integration {
    pub config: IntegrationConfig,
    pub auth: Arc<Authenticator>,
    pub monitor: MonitorSource,
    pub admin: AdminUsersSource,
    /// Where the integration is defined.
    pub origin: Origin,
}

/// Where an integration is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file (read-only through the API).
    File,
    /// Created through the local API and stored in the state database (Unix seconds).
    Api { created_at: i64, updated_at: i64 },
}

impl Integration {
    pub fn new(config: IntegrationConfig, state: State) -> Result<Integration, CycleError> {
        let setup = |message: String| CycleError::Setup {
            integration: config.name.clone(),
            message,
        };
        let key = key::load(&config).map_err(|e| setup(e.to_string()))?;
        let http = build_http(&config.http).map_err(setup)?;
        if config.http.insecure {
            tracing::warn!(integration = %config.name, "http.insecure = true: TLS certificates are NOT verified for this integration; do not use this in production");
        }
        let auth = Arc::new(Authenticator::new(&config, key, state, http.clone()));
        let rl = &config.rate_limit;
        let settings = RateLimitSettings {
            per_hour: rl.per_hour,
            burst: rl.burst,
            reserve: rl.reserve,
            min_spacing: rl.min_spacing.0,
        };
        let limiter = Arc::new(RateLimiter::new(&config.name, settings));
        let retry = RetryPolicy {
            max_attempts: config.retry.max_attempts,
            base: config.retry.initial.0,
            max_delay: config.retry.max.0,
        };
        let client = ApiClient::new(&config.name, http, auth.clone(), limiter).with_retry(retry);
        let monitor = MonitorSource::new(client.clone(), &config);
        let admin = AdminUsersSource::new(client.clone(), &config);
        Ok(Integration {
            config,
            auth,
            monitor,
            admin,
            origin: Origin::File,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// This integration's streams (none while it is inactive).
    pub fn streams(self: &Arc<Self>) -> Vec<(Arc<Integration>, EventType)> {
        if !self.config.is_active() {
            return Vec::new();
        }
        self.config
            .event_types
            .iter()
            .map(|et| (self.clone(), *et))
            .collect()
    }
}

/// The collector: state, sinks, integrations.
pub struct Collector {
    pub state: State,
    pub sinks: Vec<Arc<dyn Sink>>,
    integrations: std::sync::RwLock<Vec<Arc<Integration>>>,
}

impl Collector {
    /// Set up every integration of `config` (active or not) and every one created through the
    /// local API (from the state database), with the given state and sinks. A stored integration
    /// that no longer validates (say its name is now taken by the file) is logged and left out.
    pub fn new(
        config: &Config,
        state: State,
        sinks: Vec<Arc<dyn Sink>>,
    ) -> Result<Collector, CycleError> {
        let mut integrations = config
            .integrations
            .iter()
            .map(|c| Integration::new(c.clone(), state.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        for m in state.managed_integrations()? {
            let built = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&m.data)
                .map_err(|e| e.to_string())
                .and_then(|settings| crate::managed::to_config(&settings, &config.integrations))
                .and_then(|c| Integration::new(c, state.clone()).map_err(|e| e.to_string()));
            match built {
                Ok(mut i) => {
                    i.origin = Origin::Api {
                        created_at: m.created_at,
                        updated_at: m.updated_at,
                    };
                    integrations.push(Arc::new(i));
                }
                Err(e) => {
                    tracing::error!(integration = %m.name, "integration created through the API is left out: {e}")
                }
            }
        }
        Ok(Collector {
            state,
            sinks,
            integrations: std::sync::RwLock::new(integrations),
        })
    }

    /// A snapshot of every integration.
    pub fn integrations(&self) -> Vec<Arc<Integration>> {
        self.integrations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn integration(&self, name: &str) -> Option<Arc<Integration>> {
        self.integrations().into_iter().find(|i| i.name() == name)
    }

    /// Add an integration, or replace the one of the same name.
    pub fn upsert(&self, integ: Arc<Integration>) {
        let mut list = self.integrations.write().unwrap_or_else(|p| p.into_inner());
        match list.iter_mut().find(|i| i.name() == integ.name()) {
            Some(slot) => *slot = integ,
            None => list.push(integ),
        }
    }

    /// Remove an integration; returns it.
    pub fn remove(&self, name: &str) -> Option<Arc<Integration>> {
        let mut list = self.integrations.write().unwrap_or_else(|p| p.into_inner());
        let at = list.iter().position(|i| i.name() == name)?;
        Some(list.remove(at))
    }

    /// The (integration, event type) streams `run` and `once` drive: active integrations only.
    pub fn streams(&self) -> Vec<(Arc<Integration>, EventType)> {
        self.integrations()
            .iter()
            .flat_map(|i| i.streams())
            .collect()
    }

    /// One cycle of `et` for `integ`, recorded in the run history.
    pub async fn cycle(
        &self,
        integ: &Integration,
        et: EventType,
        shutdown: &Shutdown,
    ) -> Result<CycleStats, CycleError> {
        let name = integ.name();
        let started = now_unix();
        let run_id = self.state.run_started(name, et, started)?;
        let result = match et {
            EventType::CustomerEvents => self.customer_events(integ, shutdown).await,
            EventType::AuditUsers => self.audit_users(integ, shutdown).await,
        };
        let (stats, error) = match &result {
            Ok(s) => (*s, None),
            Err(e) => (CycleStats::default(), Some(e.to_string())),
        };
        self.state.run_finished(
            run_id,
            now_unix(),
            stats.events,
            stats.pages,
            error.as_deref(),
        )?;
        let outcome = if result.is_ok() { "success" } else { "failure" };
        let m = metrics::global();
        m.add(
            "docusign_collector_cycles_total",
            vec![
                ("integration", name.to_string()),
                ("event_type", et.as_str().into()),
                ("outcome", outcome.into()),
            ],
            1.0,
        );
        if result.is_ok() {
            m.set(
                "docusign_collector_last_success_timestamp_seconds",
                vec![
                    ("integration", name.to_string()),
                    ("event_type", et.as_str().into()),
                ],
                now_unix() as f64,
            );
        }
        result
    }

    /// The cursor to start from: the saved one, else `start_from` as an ISO 8601 time.
    pub fn start_cursor(&self, integ: &Integration) -> Result<String, StateError> {
        Ok(
            match self.state.cursor(integ.name(), EventType::CustomerEvents)? {
                Some(c) => c,
                None => {
                    let at = integ.config.customer_events.start_from.resolve(now_unix());
                    crate::record::format_time(at)
                }
            },
        )
    }

    async fn customer_events(
        &self,
        integ: &Integration,
        shutdown: &Shutdown,
    ) -> Result<CycleStats, CycleError> {
        let start = self.start_cursor(integ)?;
        let limit = integ.config.customer_events.page_size;
        let (tx, mut rx) = mpsc::channel::<MonitorPage>(PAGES_IN_FLIGHT);
        let monitor = integ.monitor.clone();
        let stop = shutdown.clone();
        let fetcher = async move {
            let mut cursor = start;
            loop {
                if stop.is_triggered() {
                    return Ok(());
                }
                // A fetch (perhaps waiting for the rate budget) is abandoned on shutdown:
                // nothing of it was delivered, so nothing is lost.
                let page = tokio::select! {
                    page = monitor.fetch_page(&cursor, limit) => page?,
                    _ = stop.wait() => return Ok(()),
                };
                let caught_up = page.caught_up();
                cursor.clone_from(&page.end_cursor);
                if tx.send(page).await.is_err() || caught_up {
                    return Ok::<(), ApiError>(());
                }
            }
        };
        let name = integ.name().to_string();
        let (sinks, state) = (&self.sinks, &self.state);
        let deliverer = async move {
            let mut stats = CycleStats::default();
            while let Some(page) = rx.recv().await {
                let events = page.records.len() as u64;
                if events > 0 {
                    let batch = Arc::new(Batch {
                        integration: name.clone(),
                        event_type: EventType::CustomerEvents,
                        records: page.records,
                    });
                    deliver_page(sinks, state, batch, &page.end_cursor).await?;
                }
                if crate::fault::hit("after_sink_write") {
                    crate::fault::crash("after_sink_write");
                }
                if page.end_cursor != page.cursor {
                    state.save_cursor(&name, EventType::CustomerEvents, &page.end_cursor)?;
                }
                stats.page_delivered(&name, EventType::CustomerEvents, events);
                tracing::debug!(integration = %name, events, cursor = %page.end_cursor, "page delivered");
            }
            Ok::<CycleStats, CycleError>(stats)
        };
        // The deliverer owns `rx`: if it fails, the fetcher's next send fails and it stops.
        let (fetched, delivered) = tokio::join!(fetcher, deliverer);
        let stats = delivered?;
        fetched?;
        Ok(stats)
    }
}

impl Collector {
    /// Audit users modified since the watermark: every Admin page enriched and delivered; the
    /// watermark (greatest modification time seen, and the pairs at that second) saved only
    /// after the whole query was delivered, since the Admin API does not sort by time.
    async fn audit_users(
        &self,
        integ: &Integration,
        shutdown: &Shutdown,
    ) -> Result<CycleStats, CycleError> {
        let name = integ.name();
        let admin = &integ.admin;
        let query_started = now_unix();
        let old = Watermark::load(&self.state, name)?.unwrap_or_else(|| Watermark {
            since: integ.config.audit_users.start_from.resolve(query_started),
            seen: BTreeSet::new(),
        });
        let base_uri = if admin.enrich() {
            admin.base_uri(&self.state).await?
        } else {
            String::new()
        };
        let mut next = old.clone();
        let mut emitted: BTreeSet<String> = BTreeSet::new();
        let mut stats = CycleStats::default();
        let mut url = admin.first_url(old.since);
        let mut enrichment_failed = false;
        loop {
            if shutdown.is_triggered() {
                // The query is incomplete: keep the old watermark, the next run repeats it.
                return Ok(stats);
            }
            // Fetching and enriching are abandoned on shutdown (nothing of them was delivered);
            // the watermark stays, so the next run repeats the query.
            let fetched = async {
                let page = admin.fetch_page(&url).await?;
                let next_url = admin.next_url(&url, &page, old.since);
                let users = admin.enrich_users(&base_uri, page.users).await;
                Ok::<_, ApiError>((next_url, users))
            };
            let (next_url, users) = tokio::select! {
                r = fetched => r?,
                _ = shutdown.wait() => return Ok(stats),
            };
            let users = match users {
                Ok(u) => {
                    enrichment_failed |= u.failed > 0;
                    u.users
                }
                Err(e) => {
                    if !matches!(e, ApiError::Auth(_)) {
                        // The account may have moved: look the base URI up again next time.
                        admin.forget_base_uri(&self.state);
                    }
                    return Err(e.into());
                }
            };
            let now = now_unix();
            let mut records = Vec::with_capacity(users.len());
            for u in &users {
                let key = u.key();
                if old.seen.contains(&key) || !emitted.insert(key.clone()) {
                    continue;
                }
                records.push(u.to_record(name, integ.config.change_keys, now));
                match u.modified {
                    Some(m) if m > next.since => {
                        next.since = m;
                        next.seen = BTreeSet::from([key]);
                    }
                    Some(m) if m < next.since => {}
                    _ => {
                        next.seen.insert(key);
                    }
                }
            }
            let events = records.len() as u64;
            if events > 0 {
                let batch = Arc::new(Batch {
                    integration: name.to_string(),
                    event_type: EventType::AuditUsers,
                    records,
                });
                // The page's URL (with its last_modified_since and start) identifies it.
                deliver_page(&self.sinks, &self.state, batch, &url).await?;
            }
            stats.page_delivered(name, EventType::AuditUsers, events);
            match next_url {
                Some(n) => url = n,
                None => break,
            }
        }
        if enrichment_failed {
            // Some eSignature lookups failed: the account may have moved, ask userinfo next time.
            admin.forget_base_uri(&self.state);
        }
        if !admin.enrich() && query_started > next.since {
            // Without eSignature there is no modification time: the next query starts where this one did.
            next = Watermark {
                since: query_started,
                seen: BTreeSet::new(),
            };
        }
        if next != old {
            next.save(&self.state, name)?;
        }
        Ok(stats)
    }
}

/// State key under which a sink's acceptance of a page is remembered while another sink failed.
fn ack_key(sink: &str, et: EventType) -> String {
    format!("ack.{}.{sink}", et.as_str())
}

/// Deliver a page (identified by its end cursor) to every sink. When some sinks fail, the ones
/// that accepted remember it, and the retry of the same page skips them: a healthy sink gets
/// no duplicates while another one is failing.
pub async fn deliver_page(
    sinks: &[Arc<dyn Sink>],
    state: &State,
    batch: Arc<Batch>,
    end_cursor: &str,
) -> Result<(), CycleError> {
    let et = batch.event_type;
    // With one sink there is no other sink to spare a re-send: no acknowledgements to keep.
    let track = sinks.len() > 1;
    let mut pending = Vec::with_capacity(sinks.len());
    for s in sinks {
        if track
            && state
                .get_value(&batch.integration, &ack_key(s.name(), et))?
                .as_deref()
                == Some(end_cursor)
        {
            tracing::debug!(
                sink = s.name(),
                "sink already accepted this page; not sending it again"
            );
        } else {
            pending.push(s.clone());
        }
    }
    let results =
        futures_util::future::join_all(pending.iter().map(|s| s.deliver(batch.clone()))).await;
    let mut accepted = Vec::new();
    let mut first_error = None;
    for (sink, r) in pending.iter().zip(results) {
        match r {
            Ok(()) => accepted.push(sink),
            Err(e) => {
                metrics::global().add(
                    "docusign_collector_sink_errors_total",
                    vec![("sink", sink.name().to_string())],
                    1.0,
                );
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => {
            if track {
                for sink in accepted {
                    state.set_value(&batch.integration, &ack_key(sink.name(), et), end_cursor)?;
                }
            }
            Err(e.into())
        }
        None => Ok(()),
    }
}
