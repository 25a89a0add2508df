//! Drives collection: `run` keeps every active (integration, event type) stream on its own
//! interval; `once` runs one cycle of each.
//!
//! Each stream is its own task, so one failing or slow integration never stalls another. A
//! stream's next cycle starts `interval` (± up to 10 % jitter, at most 30 s) after the previous
//! one started, or right after it ends if it ran longer: cycles never stack. Errors that only
//! an operator can fix (missing consent, a wrong key) slow the stream to one attempt every
//! 10 minutes instead of hammering Docusign.

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

/// Random jitter of up to ±10 % of `interval`, capped at 30 s.
pub fn jittered(interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(30)).as_millis() as i64;
    if max == 0 {
        return interval;
    }
    let j = rand::thread_rng().gen_range(-max..=max);
    let ms = interval.as_millis() as i64 + j;
    Duration::from_millis(ms.max(0) as u64)
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

/// What the local API asks of a running scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// (Re)start the named integration's streams from its current definition (stops them if it
    /// is gone or inactive).
    Restart(String),
    /// Stop the named integration's streams.
    Stop(String),
    /// Run a cycle of each of the named integration's streams now.
    Fetch(String),
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

fn start(
    collector: &Arc<Collector>,
    integ: &Arc<Integration>,
    running: &mut HashMap<String, Running>,
) {
    let streams = integ.streams();
    if streams.is_empty() {
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
        r.tasks.push(tokio::spawn(async move {
            stream_loop(collector, integ, et, shutdown, wake).await
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
        .streams(None)
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
    for integ in collector.registry().integrations() {
        start(&collector, &integ, &mut running);
    }
    if running.is_empty() {
        tracing::warn!("no active integration: nothing to collect (waiting for shutdown)");
    }
    let mut control_open = true;
    notify::notify_ready();
    // The watchdog is pinged from this loop, so a stuck loop stops the pings; without a
    // watchdog the tick still refreshes the status line.
    let mut tick = tokio::time::interval(notify::watchdog_interval().unwrap_or(STATUS_EVERY));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tick.tick() => {
                notify::notify_watchdog();
                notify::notify_status(&status_line(&collector, running.len()));
            }
            msg = control.recv(), if control_open => match msg {
                Some(Control::Restart(name)) => {
                    stop(&mut running, &name).await;
                    if let Some(integ) = collector.registry().integration(&name) {
                        start(&collector, &integ, &mut running);
                    }
                }
                Some(Control::Stop(name)) => stop(&mut running, &name).await,
                Some(Control::Fetch(name)) => {
                    if let Some(r) = running.get(&name) {
                        r.wake.iter().for_each(|w| w.notify_one());
                    }
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

async fn stream_loop(
    collector: Arc<Collector>,
    integ: Arc<Integration>,
    et: EventType,
    shutdown: Shutdown,
    wake: Arc<Notify>,
) {
    let every = interval(&integ, et);
    tracing::info!(integration = %integ.name(), event_type = %et, interval = %humantime::format_duration(every), "collecting");
    loop {
        let started = Instant::now();
        let result = collector.cycle(&integ, et, &shutdown).await;
        log_cycle(&integ, et, &result, started.elapsed());
        if shutdown.is_triggered() {
            return;
        }
        let wait = match &result {
            Err(e) if e.is_permanent() => {
                tracing::error!(integration = %integ.name(), event_type = %et, "needs operator action; next attempt in {}", humantime::format_duration(PERMANENT_ERROR_RETRY));
                PERMANENT_ERROR_RETRY
            }
            _ => jittered(every),
        };
        let next = started + wait;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = wake.notified() => tracing::info!(integration = %integ.name(), event_type = %et, "fetch requested"),
            _ = shutdown.wait() => return,
        }
    }
}

/// One cycle of every active stream, concurrently. True when all succeeded.
pub async fn once(collector: Arc<Collector>, shutdown: Shutdown) -> bool {
    let mut tasks = tokio::task::JoinSet::new();
    for (integ, et) in collector.registry().streams() {
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
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent_and_thirty_seconds() {
        for _ in 0..200 {
            let d = jittered(Duration::from_secs(60));
            assert!(
                d >= Duration::from_secs(54) && d <= Duration::from_secs(66),
                "{d:?}"
            );
            let d = jittered(Duration::from_secs(3600));
            assert!(
                d >= Duration::from_secs(3570) && d <= Duration::from_secs(3630),
                "{d:?}"
            );
        }
        assert_eq!(jittered(Duration::from_millis(5)), Duration::from_millis(5));
    }
}
