//! Fair shares of one integration's quota: customer events first.
//!
//! Callers take turns at the quota: one caller at a time waits for the next cell of the GCRA
//! quota (a FIFO lock). A Monitor call announces itself before queueing; while any Monitor call
//! waits, Admin and eSignature calls do not take a turn (one that already holds the turn keeps
//! it). So a customer-events call waits for at most one audit-user call's cell, and audit-user
//! calls take every cell the Monitor stream does not want: the whole budget while it is idle.
//! The Monitor stream wants few calls (one page per interval once caught up, up to 2,000 events
//! a call in a backlog), so an audit-user load is delayed by those calls, never stopped.

use crate::docusign::Api;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Mutex, MutexGuard, Notify};

/// The turn-taking in front of one integration's quota.
#[derive(Debug, Default)]
pub(super) struct FairGate {
    /// Monitor calls announced and not yet through the quota.
    monitor_waiting: AtomicUsize,
    /// Woken when `monitor_waiting` drops to zero.
    monitor_idle: Notify,
    /// Held by the one caller waiting for the next quota cell.
    turn: Mutex<()>,
}

/// A caller's turn at the quota; dropping it passes the turn on.
pub(super) struct Turn<'a> {
    // Fields drop in order: the Monitor call is withdrawn before the turn is passed on.
    _monitor: Option<MonitorWaiting<'a>>,
    _turn: MutexGuard<'a, ()>,
}

/// One announced Monitor call; dropped (also when the call is abandoned) it is withdrawn.
struct MonitorWaiting<'a>(&'a FairGate);

impl Drop for MonitorWaiting<'_> {
    fn drop(&mut self) {
        if self.0.monitor_waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.monitor_idle.notify_waiters();
        }
    }
}

impl FairGate {
    /// Wait for the turn of a call to `api`: Monitor calls before any other.
    pub(super) async fn turn(&self, api: Api) -> Turn<'_> {
        if api == Api::Monitor {
            self.monitor_waiting.fetch_add(1, Ordering::SeqCst);
            let announced = MonitorWaiting(self);
            let guard = self.turn.lock().await;
            return Turn {
                _turn: guard,
                _monitor: Some(announced),
            };
        }
        loop {
            self.monitor_gone().await;
            let guard = self.turn.lock().await;
            // A Monitor call announced while this one queued goes first.
            if self.monitor_waiting.load(Ordering::SeqCst) == 0 {
                return Turn {
                    _turn: guard,
                    _monitor: None,
                };
            }
        }
    }

    /// Return once no Monitor call waits.
    async fn monitor_gone(&self) {
        loop {
            let idle = self.monitor_idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.monitor_waiting.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}
