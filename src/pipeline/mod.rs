//! One collection cycle per (integration, event type): fetch pages until caught up, deliver
//! each to every sink, save its cursor.
//!
//! Invariant: a page's cursor is saved only after every sink has accepted that page's records.
//! The next page is fetched while the current one is delivered (a channel of two pages bounds
//! memory); a crash at any point re-delivers at most the pages in flight and loses nothing.

use crate::config::Config;
use crate::docusign::auth::AuthError;
use crate::docusign::client::ApiError;
use crate::integrations::{Integration, Registry};
use crate::record::{Batch, EventType};
use crate::sinks::{SinkError, Sinks};
use crate::sources::admin_users::Watermark;
use crate::sources::monitor::MonitorPage;
use crate::state::{State, StateError};
use crate::support::clock::now_unix;
use crate::support::shutdown::Shutdown;
use crate::telemetry::events::{CycleFinished, PageDelivered, PageFetched, PageInFlight};
use crate::telemetry::stream_delivered;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::mpsc;

mod delivery;
pub mod scheduler;

pub use delivery::deliver_page;

/// Pages fetched ahead of delivery.
const PAGES_IN_FLIGHT: usize = 2;

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
        PageDelivered {
            integration,
            event_type: et,
            events,
        }
        .emit();
    }
}

/// The collector: state, sinks (at least one), integrations.
pub struct Collector {
    pub state: State,
    sinks: Sinks,
    registry: Registry,
}

impl Collector {
    /// Every integration of `config` and of the state database, delivering to `sinks`.
    pub fn new(config: &Config, state: State, sinks: Sinks) -> Result<Collector, CycleError> {
        let registry = Registry::load(config, &state)?;
        Ok(Collector {
            state,
            sinks,
            registry,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn sinks(&self) -> &Sinks {
        &self.sinks
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
        let clock = std::time::Instant::now();
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
        CycleFinished {
            integration: name,
            event_type: et,
            success: result.is_ok(),
            duration: clock.elapsed(),
        }
        .emit();
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
        let (tx, mut rx) = mpsc::channel::<(MonitorPage, PageInFlight)>(PAGES_IN_FLIGHT);
        let integration = integ.name();
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
                let in_flight = PageFetched {
                    integration,
                    event_type: EventType::CustomerEvents,
                }
                .emit();
                let caught_up = page.caught_up();
                cursor.clone_from(&page.end_cursor);
                if tx.send((page, in_flight)).await.is_err() || caught_up {
                    return Ok::<(), ApiError>(());
                }
            }
        };
        let name = integ.name().to_string();
        let (sinks, state) = (&self.sinks, &self.state);
        let deliverer = async move {
            let mut stats = CycleStats::default();
            while let Some((page, _in_flight)) = rx.recv().await {
                let events = page.records.len() as u64;
                let newest = page.records.iter().map(|r| r.time).max();
                if events > 0 {
                    let batch = Arc::new(Batch {
                        integration: name.clone(),
                        event_type: EventType::CustomerEvents,
                        records: page.records,
                    });
                    deliver_page(sinks.as_slice(), state, batch, &page.end_cursor).await?;
                }
                if crate::support::fault::hit("after_sink_write") {
                    crate::support::fault::crash("after_sink_write");
                }
                if page.end_cursor != page.cursor {
                    state.save_cursor(&name, EventType::CustomerEvents, &page.end_cursor)?;
                }
                stats.page_delivered(&name, EventType::CustomerEvents, events);
                if let Some(t) = newest {
                    stream_delivered(&name, EventType::CustomerEvents, t);
                }
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
            let _in_flight = PageFetched {
                integration: name,
                event_type: EventType::AuditUsers,
            }
            .emit();
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
            let newest = records.iter().map(|r| r.time).max();
            if events > 0 {
                let batch = Arc::new(Batch {
                    integration: name.to_string(),
                    event_type: EventType::AuditUsers,
                    records,
                });
                // The page's URL (with its last_modified_since and start) identifies it.
                deliver_page(self.sinks.as_slice(), &self.state, batch, &url).await?;
            }
            stats.page_delivered(name, EventType::AuditUsers, events);
            if let Some(t) = newest {
                stream_delivered(name, EventType::AuditUsers, t);
            }
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
