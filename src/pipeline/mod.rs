//! The pipeline: one collection cycle per (integration, event type), the same for every
//! stream — the source reads pages and says where the stream stands after each (`sources`),
//! `drain` fetches ahead, delivers each page to every sink and commits its checkpoint,
//! `delivery` remembers what each sink accepted, `scheduler` drives cycles on intervals.
//!
//! Invariant: a checkpoint is committed only after every sink accepted the records before it.

use crate::config::Config;
use crate::docusign::auth::AuthError;
use crate::docusign::client::ApiError;
use crate::integrations::{Integration, Registry, SetupError};
use crate::record::{format_time, EventType};
use crate::sinks::{SinkError, Sinks, StdoutSink, SwappableSinks};
use crate::sources::admin_users::AuditPosition;
use crate::sources::monitor::MonitorCursor;
use crate::sources::Checkpoint;
use crate::state::{SeenChanges, State, StateError};
use crate::support::clock::now_unix;
use crate::support::shutdown::Shutdown;
use crate::telemetry::events::{CycleFinished, PageDelivered};
use std::sync::Arc;

mod delivery;
mod drain;
mod recall;
pub mod scheduler;
mod supervise;

pub use delivery::{deliver_page, page_identity};
pub use drain::{drain, Target, PAGES_IN_FLIGHT};
pub use recall::PageRecall;

/// State key under which versions before the unified pipeline kept the audit-user position.
const LEGACY_AUDIT_KEY: &str = "audit_users.watermark";

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

impl CycleError {
    /// Errors only an operator can fix (consent, wrong key, unknown integration key).
    pub fn is_permanent(&self) -> bool {
        matches!(self, CycleError::Api(ApiError::Auth(a)) if a.is_permanent())
            || matches!(self, CycleError::Setup(SetupError::Invalid { .. }))
    }

    /// This replica no longer holds the integration's lease: the stream must stop here.
    pub fn is_fenced(&self) -> bool {
        match self {
            CycleError::State(e) => e.is_fenced(),
            CycleError::Api(ApiError::Auth(AuthError::State { source, .. })) => source.is_fenced(),
            _ => false,
        }
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
    fn page_delivered(&mut self, integration: &str, event_type: EventType, events: u64) {
        self.pages += 1;
        self.events += events;
        PageDelivered {
            integration,
            event_type,
            events,
        }
        .emit();
    }
}

/// The collector: state, sinks (at least one, swappable between pages), integrations.
pub struct Collector {
    pub state: State,
    sinks: SwappableSinks,
    registry: Registry,
    /// Why the last configuration reload was refused; `None` after a good one (or none).
    reload_failure: std::sync::RwLock<Option<String>>,
}

impl Collector {
    /// Every integration of `config` and of the state database, delivering to `sinks`.
    pub fn new(config: &Config, state: State, sinks: Sinks) -> Result<Collector, CycleError> {
        let registry = Registry::load(config, &state)?;
        Ok(Collector {
            state,
            sinks: SwappableSinks::new(sinks),
            registry,
            reload_failure: Default::default(),
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The sinks in force now.
    pub fn sinks(&self) -> Sinks {
        self.sinks.current()
    }

    /// Deliver the next pages (of every stream) to `sinks`; pages in delivery finish on the old.
    pub fn replace_sinks(&self, sinks: Sinks) {
        self.sinks.replace(sinks);
    }

    /// Record the outcome of a configuration reload: `Some(reason)` when it was refused.
    pub fn set_reload_failure(&self, reason: Option<String>) {
        *self
            .reload_failure
            .write()
            .unwrap_or_else(|p| p.into_inner()) = reason;
    }

    /// Why the last configuration reload was refused, if it was.
    pub fn reload_failure(&self) -> Option<String> {
        self.reload_failure
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// One cycle of `et` for `integ`, recorded in the run history.
    pub async fn cycle(
        &self,
        integ: &Integration,
        et: EventType,
        shutdown: &Shutdown,
    ) -> Result<CycleStats, CycleError> {
        let name = integ.name();
        let clock = std::time::Instant::now();
        let started = now_unix();
        let run_id = self.state.run_started(name, et, started)?;
        if crate::support::fault::hit("panic_in_cycle") {
            panic!("fault injection: panic_in_cycle");
        }
        let target = Target {
            integration: name,
            event_type: et,
            sinks: &self.sinks,
            state: Some(&self.state),
            limit: None,
            recall: None,
        };
        let saved = match et {
            EventType::CustomerEvents => {
                self.saved::<MonitorCursor>(integ, et)?.map(|c| c.encode())
            }
            EventType::AuditUsers => match self.saved::<AuditPosition>(integ, et)? {
                Some(p) => Some(self.move_legacy_users(name, p)?.encode()),
                None => None,
            },
        };
        let result = collect_from(integ, et, target, shutdown, Start::Saved(saved)).await;
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

    /// A position written by an earlier version lists the users remembered for the overlap:
    /// they go into the recognition set, and the position is saved without them, in one
    /// transaction (once: the position read next time has none).
    fn move_legacy_users(
        &self,
        name: &str,
        mut position: AuditPosition,
    ) -> Result<AuditPosition, StateError> {
        let users = position.take_legacy_users();
        if users.is_empty() {
            return Ok(position);
        }
        tracing::info!(integration = %name, users = users.len(), "moving the audit users an earlier version kept in the stream's position into the state's recognition set");
        let changes = SeenChanges {
            added: users,
            forget_before: None,
        };
        self.state
            .commit_checkpoint(name, EventType::AuditUsers, &position.encode(), &changes)?;
        Ok(position)
    }

    /// The committed position of a stream, if any and readable. An unreadable one is logged and
    /// ignored (the stream starts from `start_from`), never a panic.
    fn saved<C: Checkpoint>(
        &self,
        integ: &Integration,
        et: EventType,
    ) -> Result<Option<C>, StateError> {
        let name = integ.name();
        let mut text = self.state.cursor(name, et)?;
        if text.is_none() && et == EventType::AuditUsers {
            text = self.state.get_value(name, LEGACY_AUDIT_KEY)?;
        }
        let Some(text) = text else { return Ok(None) };
        let decoded = C::decode(&text);
        if decoded.is_none() {
            tracing::warn!(integration = %name, event_type = %et, "the saved position is unreadable: starting from start_from");
        }
        Ok(decoded)
    }
}

/// Read one stream through the pipeline: from `saved` (the committed position), else from the
/// stream's `start_from`; `since` overrides both (a preview from a chosen time).
async fn collect_from(
    integ: &Integration,
    et: EventType,
    target: Target<'_>,
    shutdown: &Shutdown,
    from: Start,
) -> Result<CycleStats, CycleError> {
    let now = now_unix();
    match et {
        EventType::CustomerEvents => {
            let cfg = &integ.config.customer_events;
            let (saved, start) = match from {
                Start::Saved(s) => (
                    s.and_then(|t| MonitorCursor::decode(&t)),
                    cfg.start_from.resolve(now),
                ),
                Start::At(t) => (None, t),
            };
            let page_size = target
                .limit
                .map_or(cfg.page_size, |l| cfg.page_size.min(l.max(1) as u32));
            let stream = integ.monitor.stream(saved, format_time(start), page_size);
            drain(stream, target, shutdown).await
        }
        EventType::AuditUsers => {
            let recall = Arc::new(PageRecall::new(target.state.cloned(), integ.name()));
            let stream = match from {
                Start::Saved(s) => integ.admin.stream(
                    s.and_then(|t| AuditPosition::decode(&t)),
                    now,
                    recall.clone(),
                ),
                Start::At(t) => integ.admin.stream_since(t, now, recall.clone()),
            };
            let target = Target {
                recall: Some(recall),
                ..target
            };
            drain(stream, target, shutdown).await
        }
    }
}

/// Where a stream starts.
enum Start {
    /// The committed position (its stored text), if any; else `start_from`.
    Saved(Option<String>),
    /// This time (Unix seconds), ignoring any committed position.
    At(i64),
}

/// Print up to `limit` records of one stream from `since` (Unix seconds) on stdout through the
/// same pipeline, committing nothing (`get-events`).
pub async fn preview(
    integ: &Integration,
    et: EventType,
    since: i64,
    limit: usize,
    shutdown: &Shutdown,
) -> Result<CycleStats, CycleError> {
    let sinks = SwappableSinks::new(Sinks::one(Arc::new(StdoutSink::new("stdout"))));
    let target = Target {
        integration: integ.name(),
        event_type: et,
        sinks: &sinks,
        state: None,
        limit: Some(limit),
        recall: None,
    };
    collect_from(integ, et, target, shutdown, Start::At(since)).await
}
