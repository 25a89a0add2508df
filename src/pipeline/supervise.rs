//! Stream supervision: a stream whose task panics is restarted, not lost.
//!
//! Each stream's loop runs inside `catch_unwind` in its own task. A panic is counted
//! (`docusign_collector_stream_restarts_total`), logged, and recorded in the run history as a
//! failed run — so `state`, `GET /integrations` and `/readyz` show it as the stream's last run
//! until a cycle succeeds — and the loop starts again after a backoff: 1 s, doubling up to
//! 5 min, back to 1 s once a cycle has succeeded since the previous restart. While a stream is
//! dead (between its panic and its restart) the scheduler does not feed the systemd watchdog.
//!
//! A stream's loop returns on purpose only on shutdown or when this replica no longer holds the
//! integration's lease; both end its task for good.

use super::scheduler::stream_loop;
use crate::integrations::Integration;
use crate::pipeline::Collector;
use crate::record::EventType;
use crate::support::backoff::Backoff;
use crate::support::clock::now_unix;
use crate::support::shutdown::Shutdown;
use crate::telemetry::events::StreamRestarted;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The wait before the first restart of a stream that panicked.
pub const RESTART_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between restarts.
pub const RESTART_MAX: Duration = Duration::from_secs(300);
/// How much of a panic's message the log and the run history show.
const MESSAGE_SHOWN: usize = 200;

/// How many streams that should run are dead now (panicked, not restarted yet).
#[derive(Debug, Default, Clone)]
pub struct DeadStreams(Arc<AtomicUsize>);

impl DeadStreams {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Count one stream dead until the guard is dropped (restarted, stopped or aborted).
    fn down(&self) -> Dead<'_> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Dead(self)
    }
}

struct Dead<'a>(&'a DeadStreams);

impl Drop for Dead<'_> {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Successful cycles of one stream, counted by its loop (a success resets the restart backoff).
pub type Successes = Arc<AtomicU64>;

/// Run `integ`'s `et` stream until shutdown or until its lease is gone, restarting it after a
/// panic (see the module's documentation).
pub(super) async fn supervise(
    collector: Arc<Collector>,
    integ: Arc<Integration>,
    et: EventType,
    shutdown: Shutdown,
    wake: Arc<Notify>,
    first_delay: Duration,
    dead: DeadStreams,
) {
    let successes: Successes = Arc::default();
    let backoff = Backoff::new(RESTART_FIRST, RESTART_MAX);
    let mut restarts = 0u32;
    let mut delay = first_delay;
    loop {
        let before = successes.load(Ordering::SeqCst);
        let run = stream_loop(
            collector.clone(),
            integ.clone(),
            et,
            shutdown.clone(),
            wake.clone(),
            delay,
            successes.clone(),
        );
        let Err(panic) = AssertUnwindSafe(run).catch_unwind().await else {
            return;
        };
        let _dead = dead.down();
        if successes.load(Ordering::SeqCst) != before {
            restarts = 0;
        }
        restarts = restarts.saturating_add(1);
        let wait = backoff.cap(restarts - 1);
        let message = panic_message(panic.as_ref());
        StreamRestarted {
            integration: integ.name(),
            event_type: et,
            restart: restarts,
            delay: wait,
            message: &message,
        }
        .emit();
        let error = format!(
            "the stream's task panicked: {message}; restarting in {} (restart {restarts})",
            humantime::format_duration(wait)
        );
        record_failure(&collector, integ.name(), et, &error);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait() => return,
        }
        delay = Duration::ZERO;
    }
}

/// A panic's message, cut to [`MESSAGE_SHOWN`] characters.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    let mut out: String = text.chars().take(MESSAGE_SHOWN).collect();
    if text.chars().nth(MESSAGE_SHOWN).is_some() {
        out.push('…');
    }
    out
}

/// Record the panic as the stream's last run: it ends the run the panic left open, if any,
/// else it is a run of its own.
fn record_failure(collector: &Collector, name: &str, et: EventType, error: &str) {
    let state = &collector.state;
    let now = now_unix();
    let open = state
        .recent_runs(name, et, 1)
        .ok()
        .and_then(|runs| runs.into_iter().next())
        .filter(|r| r.ended_at.is_none())
        .map(|r| r.id);
    let recorded = match open {
        Some(id) => Ok(id),
        None => state.run_started(name, et, now),
    }
    .and_then(|id| state.run_finished(id, now, 0, 0, Some(error)));
    if let Err(e) = recorded {
        tracing::warn!(integration = %name, event_type = %et, "the panic could not be recorded in the run history: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_and_cut() {
        assert_eq!(panic_message(&"boom"), "boom");
        assert_eq!(panic_message(&String::from("bang")), "bang");
        assert_eq!(panic_message(&42u8), "a panic without a message");
        let long = panic_message(&"x".repeat(1000));
        assert_eq!(long.chars().count(), MESSAGE_SHOWN + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn a_dead_stream_counts_until_its_guard_drops() {
        let dead = DeadStreams::default();
        let a = dead.down();
        let b = dead.down();
        assert_eq!(dead.count(), 2);
        drop(a);
        assert_eq!(dead.count(), 1);
        drop(b);
        assert_eq!(dead.count(), 0);
    }

    #[test]
    fn restarts_back_off_from_a_second_to_five_minutes() {
        let b = Backoff::new(RESTART_FIRST, RESTART_MAX);
        assert_eq!(b.cap(0), Duration::from_secs(1));
        assert_eq!(b.cap(1), Duration::from_secs(2));
        assert_eq!(b.cap(8), Duration::from_secs(256));
        assert_eq!(b.cap(9), RESTART_MAX);
        assert_eq!(b.cap(u32::MAX), RESTART_MAX);
    }
}
