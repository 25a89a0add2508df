//! Drives collection: `run` keeps every active (integration, event type) stream on its own
//! interval; `once` runs one cycle of each.
//!
//! Each stream is its own task, so one failing or slow integration never stalls another. A
//! stream's next cycle starts `interval` (± up to 10 % jitter, at most 30 s) after the previous
//! one started, or right after it ends if it ran longer: cycles never stack. Errors that only
//! an operator can fix (missing consent, a wrong key) slow the stream to one attempt every
//! 10 minutes instead of hammering Docusign.
//!
//! At start-up the first cycles are spread: each stream's first cycle is delayed by a stable
//! hash of its integration and event type modulo min(interval, 60 s), so a thousand
//! integrations do not ask for a thousand token grants in the same second. `once`, a restart
//! through the API and a `Fetch` start at once.

use super::supervise::{supervise, DeadStreams, Successes};
use crate::integrations::Integration;
use crate::pipeline::{Collector, CycleError};
use crate::record::EventType;
use crate::support::notify;
use crate::support::shutdown::{Shutdown, ShutdownTrigger};
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Wait after a permanent error (consent missing, key rejected) before trying again.
pub const PERMANENT_ERROR_RETRY: Duration = Duration::from_secs(600);

/// The interval of `et` for `integ`.
pub fn interval(integ: &Integration, et: EventType) -> Duration {
    match et {
        EventType::CustomerEvents => integ.config.customer_events.interval.0,
        EventType::AuditUsers => integ.config.audit_users.interval.0,
    }
}

/// The longest start-up delay of a stream's first cycle.
pub const MAX_START_SPREAD: Duration = Duration::from_secs(60);

/// The delay of the first cycle of `integration`'s `et` stream at start-up: a stable hash (FNV-1a)
/// of both modulo min(`interval`, [`MAX_START_SPREAD`]).
pub fn start_delay(integration: &str, et: EventType, interval: Duration) -> Duration {
    // At most 60,000 ms: the conversion cannot fail.
    let window = u64::try_from(interval.min(MAX_START_SPREAD).as_millis()).unwrap_or(60_000);
    if window == 0 {
        return Duration::ZERO;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in integration.bytes().chain([0]).chain(et.as_str().bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Duration::from_millis(h % window)
}

/// Random jitter of up to ±10 % of `interval`, capped at 30 s. Any `interval` (also
/// `Duration::MAX`): the result is `interval − j + r` with `j` ≤ a tenth of it, saturating.
pub fn jittered(interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(30));
    // At most 30,000 ms.
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(30_000);
    if max_ms == 0 {
        return interval;
    }
    let r = rand::thread_rng().gen_range(0..=2 * max_ms);
    interval
        .saturating_sub(Duration::from_millis(max_ms))
        .saturating_add(Duration::from_millis(r))
}

fn log_cycle(
    integ: &Integration,
    et: EventType,
    r: &Result<crate::pipeline::CycleStats, CycleError>,
    took: Duration,
) {
    match r {
        Ok(s) => {
            tracing::info!(integration = %integ.name(), event_type = %et, events = s.events, pages = s.pages, took_ms = took.as_millis() as u64, "cycle done")
        }
        Err(e) => {
            tracing::error!(integration = %integ.name(), event_type = %et, "cycle failed: {e}")
        }
    }
}

/// What the local API, a reload or the cluster asks of a running scheduler.
#[derive(Debug)]
pub enum Control {
    /// (Re)start the named integration's streams from its current definition (stops them if it
    /// is gone or inactive).
    Restart(String),
    /// Stop the named integration's streams.
    Stop(String),
    /// Run a cycle of each of the named integration's streams now.
    Fetch(String),
    /// This replica now holds the named integration's lease: start its streams (first cycles
    /// spread as at start-up) unless they run.
    Acquired(String),
    /// Stop the named integration's streams (their pages in flight finish and commit), then
    /// answer, so its lease is released only after the last commit.
    Release(String, tokio::sync::oneshot::Sender<()>),
}

/// Sends [`Control`] messages to a running scheduler.
pub type ControlSender = tokio::sync::mpsc::Sender<Control>;
pub type ControlReceiver = tokio::sync::mpsc::Receiver<Control>;

/// Control messages waiting for the scheduler; an API call that finds the queue full waits.
pub const CONTROL_QUEUE: usize = 64;

/// A bounded control channel for [`run`].
pub fn control_channel() -> (ControlSender, ControlReceiver) {
    tokio::sync::mpsc::channel(CONTROL_QUEUE)
}

/// The running streams of one integration.
struct Running {
    trigger: ShutdownTrigger,
    wake: Vec<Arc<Notify>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Start `integ`'s streams (each supervised: see [`super::supervise`]); with `spread`, each
/// first cycle waits its [`start_delay`].
fn start(
    collector: &Arc<Collector>,
    integ: &Arc<Integration>,
    running: &mut HashMap<String, Running>,
    spread: bool,
    dead: &DeadStreams,
) {
    let streams = integ.streams();
    // With replicas, only the holder of the integration's lease collects it.
    if streams.is_empty() || !collector.state.holds(integ.name()) {
        return;
    }
    let (trigger, shutdown) = Shutdown::new();
    let mut r = Running {
        trigger,
        wake: Vec::new(),
        tasks: Vec::new(),
    };
    for (integ, et) in streams {
        let wake = Arc::new(Notify::new());
        r.wake.push(wake.clone());
        let (collector, shutdown) = (collector.clone(), shutdown.clone());
        let delay = if spread {
            start_delay(integ.name(), et, interval(&integ, et))
        } else {
            Duration::ZERO
        };
        let dead = dead.clone();
        r.tasks.push(tokio::spawn(async move {
            supervise(collector, integ, et, shutdown, wake, delay, dead).await
        }));
    }
    running.insert(integ.name().to_string(), r);
}

/// Stop an integration's streams: they finish the page in flight (waited for up to 30 s).
async fn stop(running: &mut HashMap<String, Running>, name: &str) {
    if let Some(r) = running.remove(name) {
        r.trigger.fire();
        for t in r.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .is_err()
            {
                tracing::warn!(integration = %name, "stream did not stop within 30 s; abandoning it (its cursor stays at the last accepted page)");
                abort.abort();
            }
        }
    }
}

/// How often the systemd status line is refreshed when no watchdog is asked for.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// A one-line summary for systemd: integrations, running ones, and the failing streams.
fn status_line(collector: &Collector, running: usize) -> String {
    let total = collector.registry().integrations().len();
    let failing: Vec<String> = collector
        .state
        .stream_runs(None)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let err = s.last_run.as_ref()?.error.as_ref()?;
            let err: String = err.chars().take(120).collect();
            Some(format!("{}/{}: {err}", s.integration, s.event_type))
        })
        .collect();
    let mut line = format!("{total} integrations, {running} collecting");
    if failing.is_empty() {
        line.push_str(", no errors");
    } else {
        line.push_str(&format!(
            "; {} failing: {}",
            failing.len(),
            failing.join("; ")
        ));
    }
    line
}

/// Run every active stream until `shutdown` fires, following `control` (integrations added,
/// changed, removed or fetched through the local API). Returns once every stream has stopped.
pub async fn run(collector: Arc<Collector>, shutdown: Shutdown, mut control: ControlReceiver) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let dead = DeadStreams::default();
    for integ in collector.registry().integrations() {
        start(&collector, &integ, &mut running, true, &dead);
    }
    // With replicas nothing is held yet: the cluster starts what it claims.
    if running.is_empty() && collector.state.lease_book().is_none() {
        tracing::warn!("no active integration: nothing to collect (waiting for shutdown)");
    }
    let mut control_open = true;
    notify::notify_ready();
    // The watchdog is pinged from this loop, so a stuck loop stops the pings, and so does a
    // stream that panicked and is not restarted yet; without a watchdog the tick still
    // refreshes the status line.
    let mut tick = tokio::time::interval(notify::watchdog_interval().unwrap_or(STATUS_EVERY));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tick.tick() => {
                match dead.count() {
                    0 => notify::notify_watchdog(),
                    n => tracing::warn!(dead = n, "a stream is down until its restart: the watchdog is not fed"),
                }
                notify::notify_status(&status_line(&collector, running.len()));
            }
            msg = control.recv(), if control_open => match msg {
                Some(Control::Restart(name)) => {
                    stop(&mut running, &name).await;
                    if let Some(integ) = collector.registry().integration(&name) {
                        start(&collector, &integ, &mut running, false, &dead);
                    }
                }
                Some(Control::Stop(name)) => stop(&mut running, &name).await,
                Some(Control::Fetch(name)) => {
                    if let Some(r) = running.get(&name) {
                        r.wake.iter().for_each(|w| w.notify_one());
                    }
                }
                Some(Control::Acquired(name)) => {
                    let stale = running
                        .get(&name)
                        .is_some_and(|r| r.tasks.iter().all(|t| t.is_finished()));
                    if stale {
                        stop(&mut running, &name).await;
                    }
                    if !running.contains_key(&name) {
                        if let Some(integ) = collector.registry().integration(&name) {
                            start(&collector, &integ, &mut running, true, &dead);
                        }
                    }
                }
                Some(Control::Release(name, done)) => {
                    stop(&mut running, &name).await;
                    let _ = done.send(());
                }
                None => control_open = false,
            },
        }
    }
    notify::notify_stopping();
    tracing::info!("shutting down: finishing the pages in flight");
    for r in running.values() {
        r.trigger.fire();
    }
    for (_, r) in running.drain() {
        for t in r.tasks {
            let _ = t.await;
        }
    }
}

/// One stream's cycles on its interval until shutdown or until the lease is gone; every
/// successful cycle counts in `successes`.
pub(super) async fn stream_loop(
    collector: Arc<Collector>,
    integ: Arc<Integration>,
    et: EventType,
    shutdown: Shutdown,
    wake: Arc<Notify>,
    first_delay: Duration,
    successes: Successes,
) {
    let every = interval(&integ, et);
    tracing::info!(integration = %integ.name(), event_type = %et, interval = %humantime::format_duration(every), first_in_ms = first_delay.as_millis() as u64, "collecting");
    if !first_wait(first_delay, &wake, &shutdown).await {
        return;
    }
    loop {
        let started = Instant::now();
        // Boxed: the cycle's state lives on the heap only while it runs, so the thousands of
        // streams that sleep between cycles hold a small future each.
        if !collector.state.holds(integ.name()) {
            tracing::info!(integration = %integ.name(), event_type = %et, "this replica no longer holds the lease: stopped");
            return;
        }
        let result = Box::pin(collector.cycle(&integ, et, &shutdown)).await;
        log_cycle(&integ, et, &result, started.elapsed());
        if result.is_ok() {
            successes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        if shutdown.is_triggered() {
            return;
        }
        if result.as_ref().is_err_and(CycleError::is_fenced) {
            // Another replica holds the lease now: it collects from the last committed page.
            return;
        }
        let wait = match &result {
            Err(e) if e.is_permanent() => {
                tracing::error!(integration = %integ.name(), event_type = %et, "needs operator action; next attempt in {}", humantime::format_duration(PERMANENT_ERROR_RETRY));
                PERMANENT_ERROR_RETRY
            }
            _ => jittered(every),
        };
        // `started + wait` can overflow only for an absurd interval; then sleep `wait` (tokio
        // caps a sleep at its far future) rather than panic.
        let pause = match started.checked_add(wait) {
            Some(next) => tokio::time::sleep_until(next),
            None => tokio::time::sleep(wait),
        };
        tokio::select! {
            _ = pause => {}
            _ = wake.notified() => tracing::info!(integration = %integ.name(), event_type = %et, "fetch requested"),
            _ = shutdown.wait() => return,
        }
    }
}

/// Wait `delay` before a stream's first cycle; a fetch ends the wait early. False on shutdown.
async fn first_wait(delay: Duration, wake: &Notify, shutdown: &Shutdown) -> bool {
    if delay.is_zero() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = wake.notified() => true,
        _ = shutdown.wait() => false,
    }
}

/// One cycle of every active stream, concurrently. True when all succeeded.
pub async fn once(collector: Arc<Collector>, shutdown: Shutdown) -> bool {
    let mut tasks = tokio::task::JoinSet::new();
    for (integ, et) in collector.registry().streams() {
        if !collector.state.holds(integ.name()) {
            tracing::info!(integration = %integ.name(), event_type = %et, "skipped: another replica holds it");
            continue;
        }
        let collector = collector.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let r = collector.cycle(&integ, et, &shutdown).await;
            log_cycle(&integ, et, &r, started.elapsed());
            if let Err(e) = &r {
                if e.consent_required() {
                    eprintln!("{e}");
                }
            }
            r.is_ok()
        });
    }
    let mut all_ok = true;
    while let Some(r) = tasks.join_next().await {
        all_ok &= r.unwrap_or(false);
    }
    all_ok
}

#[cfg(test)]
mod tests;
