//! Drives collection: `run` keeps every active (integration, event type) stream on its own
//! interval; `once` runs one cycle of each.
//!
//! Each stream is its own task, so one failing or slow integration never stalls another. A
//! stream's next cycle starts `interval` (± up to 10 % jitter, at most 30 s) after the previous
//! one started, or right after it ends if it ran longer: cycles never stack. Errors that only
//! an operator can fix (missing consent, a wrong key) slow the stream to one attempt every
//! 10 minutes instead of hammering Docusign.

use crate::collector::{Collector, CycleError, Integration, Shutdown};
use crate::record::EventType;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
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
    r: &Result<crate::collector::CycleStats, CycleError>,
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

/// Run every active stream until `shutdown` fires. Returns once every stream has stopped.
pub async fn run(collector: Arc<Collector>, shutdown: Shutdown) {
    let streams = collector.streams();
    if streams.is_empty() {
        tracing::warn!("no active integration: nothing to collect (waiting for shutdown)");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (integ, et) in streams {
        let collector = collector.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move { stream_loop(collector, integ, et, shutdown).await });
    }
    shutdown.wait().await;
    tracing::info!("shutting down: finishing the pages in flight");
    while tasks.join_next().await.is_some() {}
}

async fn stream_loop(
    collector: Arc<Collector>,
    integ: Arc<Integration>,
    et: EventType,
    shutdown: Shutdown,
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
            _ = shutdown.wait() => return,
        }
    }
}

/// One cycle of every active stream, concurrently. True when all succeeded.
pub async fn once(collector: Arc<Collector>, shutdown: Shutdown) -> bool {
    let mut tasks = tokio::task::JoinSet::new();
    for (integ, et) in collector.streams() {
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
