// Long because: the catalogue of every happening, one small type each; it is read by looking
// one up, and one file keeps every event beside the families it counts in.
//! What the collector tells operators, one type per happening: each event logs (tracing) and
//! counts (the families of `telemetry::metrics`), so a call site says what happened once, e.g.
//! `PageDelivered { integration, event_type, events }.emit()`.
//!
//! Events are emitted per request or per page, never per event: the cost is one label set (an
//! integration or sink name copied) and one family lookup.

use super::labels::{
    ApiLabels, ApiRetryLabels, CycleLabels, EnrichmentLabels, GrantLabels, IntegrationLabels,
    Outcome, SinkLabels, StreamLabels,
};
use super::metrics::families;
use crate::record::EventType;
use crate::support::clock::now_unix;
use prometheus_client::metrics::gauge::Gauge;
use std::fmt::Display;
use std::time::Duration;

fn integration_labels(integration: &str) -> IntegrationLabels {
    IntegrationLabels {
        integration: integration.to_string(),
    }
}

/// A Docusign API request ended: an answer with `status`, or none (`status` 0).
pub struct ApiResponse<'a> {
    pub integration: &'a str,
    /// `Api::as_str()`: `monitor`, `admin`, `esignature`.
    pub api: &'static str,
    pub status: u16,
}

impl ApiResponse<'_> {
    pub fn emit(self) {
        tracing::trace!(
            integration = self.integration,
            api = self.api,
            status = self.status,
            "Docusign API answered"
        );
        families()
            .api_requests
            .get_or_create(&ApiLabels {
                integration: self.integration.to_string(),
                api: self.api,
                status: self.status,
            })
            .inc();
    }
}

/// A Docusign API request failed transiently and is tried again after `delay`.
pub struct ApiRetry<'a> {
    pub integration: &'a str,
    pub api: &'static str,
    pub attempt: u32,
    pub delay: Duration,
    /// What went wrong, for the log.
    pub problem: &'a str,
}

impl ApiRetry<'_> {
    pub fn emit(self) {
        tracing::warn!(
            integration = self.integration,
            api = self.api,
            attempt = self.attempt,
            delay_ms = self.delay.as_millis() as u64,
            "{}; retrying",
            self.problem
        );
        families()
            .retries
            .get_or_create(&ApiRetryLabels {
                integration: self.integration.to_string(),
                api: self.api,
            })
            .inc();
    }
}

/// An OAuth JWT grant was answered.
pub struct TokenGrant<'a> {
    pub integration: &'a str,
    pub success: bool,
}

impl TokenGrant<'_> {
    pub fn emit(self) {
        let outcome = Outcome::of(self.success);
        tracing::debug!(
            integration = self.integration,
            outcome = outcome.as_str(),
            "OAuth JWT grant answered"
        );
        families()
            .token_grants
            .get_or_create(&GrantLabels {
                integration: self.integration.to_string(),
                outcome,
            })
            .inc();
    }
}

/// A request waited `waited` for the integration's rate budget.
pub struct RateLimitWaited<'a> {
    pub integration: &'a str,
    pub waited: Duration,
}

impl RateLimitWaited<'_> {
    pub fn emit(self) {
        tracing::debug!(
            integration = self.integration,
            waited_ms = self.waited.as_millis() as u64,
            "waited for the rate budget"
        );
        let f = families();
        let labels = integration_labels(self.integration);
        f.rate_limit_waits.get_or_create(&labels).inc();
        f.rate_limit_wait_seconds
            .get_or_create(&labels)
            .inc_by(self.waited.as_secs_f64());
    }
}

/// `events` events of a page had no readable timestamp and got the collection time.
pub struct BadTimestamps<'a> {
    pub integration: &'a str,
    pub events: u64,
}

impl BadTimestamps<'_> {
    pub fn emit(self) {
        tracing::warn!(
            integration = self.integration,
            events = self.events,
            "events without a readable timestamp: _time set to the collection time"
        );
        families()
            .bad_timestamps
            .get_or_create(&integration_labels(self.integration))
            .inc_by(self.events);
    }
}

/// An audit user is emitted without eSignature details.
pub struct EnrichmentSkipped<'a> {
    pub integration: &'a str,
    pub user_id: &'a str,
    /// `unknown_user` (eSignature has no such user), `failed` (the lookup failed after its
    /// retries) or `bad_id` (its id cannot be a URL path segment: `.` or `..`). A user without
    /// an id is [`UsersWithoutId`].
    pub reason: &'static str,
    /// What eSignature answered, for the log.
    pub why: &'a str,
}

impl EnrichmentSkipped<'_> {
    pub fn emit(self) {
        tracing::warn!(
            integration = self.integration,
            user_id = self.user_id,
            reason = self.reason,
            "audit user emitted without eSignature details: {}",
            self.why
        );
        families()
            .enrichment_skipped
            .get_or_create(&EnrichmentLabels {
                integration: self.integration.to_string(),
                reason: self.reason,
            })
            .inc();
    }
}

/// A page was fetched and is on its way to the sinks. Keep the returned [`PageInFlight`] with
/// the page until every sink has it (or it is given up): it counts in `pages_in_flight` until
/// dropped.
pub struct PageFetched<'a> {
    pub integration: &'a str,
    pub event_type: EventType,
}

impl PageFetched<'_> {
    #[must_use = "the page counts as in flight until the guard is dropped"]
    pub fn emit(self) -> PageInFlight {
        tracing::trace!(
            integration = self.integration,
            event_type = self.event_type.as_str(),
            "page fetched"
        );
        let gauge = families()
            .pages_in_flight
            .get_or_create_owned(&StreamLabels::new(self.integration, self.event_type));
        gauge.inc();
        PageInFlight(gauge)
    }
}

/// A fetched page not yet delivered; dropping it takes it out of `pages_in_flight`.
#[derive(Debug)]
pub struct PageInFlight(Gauge);

impl Drop for PageInFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Every sink accepted a page of `events` records.
pub struct PageDelivered<'a> {
    pub integration: &'a str,
    pub event_type: EventType,
    pub events: u64,
}

impl PageDelivered<'_> {
    pub fn emit(self) {
        tracing::trace!(
            integration = self.integration,
            event_type = self.event_type.as_str(),
            events = self.events,
            "page accepted by every sink"
        );
        let f = families();
        let labels = StreamLabels::new(self.integration, self.event_type);
        f.pages.get_or_create(&labels).inc();
        f.events.get_or_create(&labels).inc_by(self.events);
    }
}

/// Records up to `newest_time_unix` (their greatest `_time`) were delivered to every sink:
/// `cursor_lag_seconds` is now − the newest such time, computed at each scrape.
pub fn stream_delivered(integration: &str, event_type: EventType, newest_time_unix: i64) {
    families()
        .cursor_lag
        .get_or_create(&StreamLabels::new(integration, event_type))
        .delivered(newest_time_unix);
}

/// A collection cycle ended after `duration`.
pub struct CycleFinished<'a> {
    pub integration: &'a str,
    pub event_type: EventType,
    pub success: bool,
    pub duration: Duration,
}

impl CycleFinished<'_> {
    pub fn emit(self) {
        let outcome = Outcome::of(self.success);
        tracing::trace!(
            integration = self.integration,
            event_type = self.event_type.as_str(),
            outcome = outcome.as_str(),
            took_ms = self.duration.as_millis() as u64,
            "cycle finished"
        );
        let f = families();
        let stream = StreamLabels::new(self.integration, self.event_type);
        f.cycle_duration
            .get_or_create(&stream)
            .observe(self.duration.as_secs_f64());
        if self.success {
            f.last_success.get_or_create(&stream).set(now_unix());
        }
        f.cycles
            .get_or_create(&CycleLabels {
                integration: stream.integration,
                event_type: self.event_type,
                outcome,
            })
            .inc();
    }
}

/// A sink failed to take a batch (for good: its own retries are over).
pub struct SinkFailed<'a> {
    pub sink: &'a str,
    pub error: &'a dyn Display,
}

impl SinkFailed<'_> {
    pub fn emit(self) {
        tracing::debug!(sink = self.sink, "delivery failed: {}", self.error);
        families()
            .sink_errors
            .get_or_create(&SinkLabels {
                sink: self.sink.to_string(),
            })
            .inc();
    }
}

/// A sink's delivery failed transiently and is retried after `delay` (`attempt`: 1 for the
/// first retry).
pub struct SinkRetry<'a> {
    pub sink: &'a str,
    pub attempt: u32,
    pub delay: Duration,
    /// What went wrong, for the log.
    pub problem: &'a str,
}

impl SinkRetry<'_> {
    pub fn emit(self) {
        // Logged on the first retry and every tenth: an outage must not flood the log.
        let attempt = self.attempt;
        if attempt == 1 || attempt.is_multiple_of(10) {
            tracing::warn!(
                sink = self.sink,
                attempt,
                delay_ms = self.delay.as_millis() as u64,
                "delivery failed ({}); retrying until it succeeds",
                self.problem
            );
        }
        families()
            .sink_retries
            .get_or_create(&SinkLabels {
                sink: self.sink.to_string(),
            })
            .inc();
    }
}

/// A sink's delivery was redirected or refused in a way that says its configuration is wrong
/// (401, 403, 404, …): retried `of` times at most (`attempt`: 1 for the first retry), then the
/// delivery fails.
pub struct SinkRefusalRetry<'a> {
    pub sink: &'a str,
    pub attempt: u32,
    pub of: u32,
    pub delay: Duration,
    pub problem: &'a str,
}

impl SinkRefusalRetry<'_> {
    pub fn emit(self) {
        tracing::warn!(
            sink = self.sink,
            attempt = self.attempt,
            delay_ms = self.delay.as_millis() as u64,
            "delivery refused ({}); trying again, {} attempts at most",
            self.problem,
            self.of
        );
        families()
            .sink_retries
            .get_or_create(&SinkLabels {
                sink: self.sink.to_string(),
            })
            .inc();
    }
}

/// A sink's receiver refused a body of `events` records as too large (413): it is sent again as
/// two halves.
pub struct SinkBatchSplit<'a> {
    pub sink: &'a str,
    pub events: usize,
    pub bytes: usize,
    pub problem: &'a str,
}

impl SinkBatchSplit<'_> {
    pub fn emit(self) {
        tracing::info!(
            sink = self.sink,
            events = self.events,
            bytes = self.bytes,
            "the receiver refused the body as too large ({}); sending it in halves (a batch_max_bytes at the receiver's limit saves these round trips)",
            self.problem
        );
        families()
            .sink_batch_splits
            .get_or_create(&SinkLabels {
                sink: self.sink.to_string(),
            })
            .inc();
    }
}

/// A sink's receiver refused `records` for what they are; they were appended to the
/// dead-letter file `path` and delivery moves on.
pub struct SinkDeadLettered<'a> {
    pub sink: &'a str,
    pub records: usize,
    pub path: &'a std::path::Path,
    pub what: &'a str,
}

impl SinkDeadLettered<'_> {
    pub fn emit(self) {
        tracing::error!(
            sink = self.sink,
            records = self.records,
            dead_letter = %self.path.display(),
            "{}; written to the dead-letter file, moving on",
            self.what
        );
        families()
            .sink_dead_lettered
            .get_or_create(&SinkLabels {
                sink: self.sink.to_string(),
            })
            .inc_by(self.records as u64);
    }
}

#[cfg(test)]
mod tests;

/// A configuration reload (SIGHUP) was refused: the old configuration keeps running.
pub struct ConfigReloadFailed<'a> {
    /// Why, naming the file and key when the configuration is invalid.
    pub reason: &'a str,
}

impl ConfigReloadFailed<'_> {
    pub fn emit(self) {
        tracing::error!(
            "configuration reload refused, the old configuration keeps running: {}",
            self.reason
        );
        families().config_reload_failures.inc();
    }
}

/// A write under a lease this replica no longer holds was refused by the database (or before
/// it, when the lease was already known lost): the integration stops here at once.
pub struct WriteFenced<'a> {
    pub integration: &'a str,
    pub replica: &'a str,
    /// The epoch the write was made under, when the book still had one.
    pub epoch: Option<i64>,
}

impl WriteFenced<'_> {
    pub fn emit(self) {
        tracing::warn!(
            integration = self.integration,
            replica = self.replica,
            epoch = self.epoch,
            "write refused: another replica holds this integration's lease now; stopping it here"
        );
        families()
            .fenced_writes
            .get_or_create(&integration_labels(self.integration))
            .inc();
    }
}

/// This replica took an integration's lease.
pub struct LeaseTaken<'a> {
    pub integration: &'a str,
    pub epoch: i64,
    /// The replica whose lease ran out, for a takeover.
    pub taken_from: Option<&'a str>,
}

impl LeaseTaken<'_> {
    pub fn emit(self) {
        match self.taken_from {
            Some(from) => {
                tracing::warn!(
                    integration = self.integration,
                    epoch = self.epoch,
                    from,
                    "took over an integration whose holder stopped renewing its lease"
                );
                families().lease_takeovers.inc();
            }
            None => tracing::info!(
                integration = self.integration,
                epoch = self.epoch,
                "lease taken"
            ),
        }
    }
}

/// This replica lost an integration's lease; it stops collecting it.
pub struct LeaseLost<'a> {
    pub integration: &'a str,
    pub reason: &'a str,
}

impl LeaseLost<'_> {
    pub fn emit(self) {
        tracing::warn!(
            integration = self.integration,
            "lease lost ({}); stopped collecting it",
            self.reason
        );
        families().leases_lost.inc();
    }
}

/// How many leases this replica holds now.
pub struct LeasesHeld(pub usize);

impl LeasesHeld {
    pub fn emit(self) {
        families()
            .leases_held
            .set(i64::try_from(self.0).unwrap_or(i64::MAX));
    }
}

/// A stream's task panicked; the scheduler restarts it after `delay` (the `restart`th time in a
/// row without a successful cycle in between).
pub struct StreamRestarted<'a> {
    pub integration: &'a str,
    pub event_type: EventType,
    pub restart: u32,
    pub delay: Duration,
    /// What the panic said (already cut).
    pub message: &'a str,
}

impl StreamRestarted<'_> {
    pub fn emit(self) {
        tracing::error!(
            integration = self.integration,
            event_type = %self.event_type,
            restart = self.restart,
            delay_ms = self.delay.as_millis() as u64,
            "the stream's task panicked ({}); restarting it in {}",
            self.message,
            humantime::format_duration(self.delay)
        );
        families()
            .stream_restarts
            .get_or_create(&StreamLabels::new(self.integration, self.event_type))
            .inc();
    }
}

/// Docusign's clock (the `Date` of an audit-user query's first Admin answer) and the host's
/// differ by more than a minute. The query starts at the earlier of the two, so a host clock
/// that jumped forward skips no change; the gauge shows the difference.
pub struct ClockDisagrees<'a> {
    pub integration: &'a str,
    /// The host's clock (Unix seconds).
    pub local: i64,
    /// Docusign's `Date` (Unix seconds).
    pub docusign: i64,
}

impl ClockDisagrees<'_> {
    pub fn emit(self) {
        let skew = self.docusign.saturating_sub(self.local);
        tracing::warn!(
            integration = self.integration,
            skew_seconds = skew,
            local = %crate::record::format_time(self.local),
            docusign = %crate::record::format_time(self.docusign),
            "the host's clock and Docusign's (the Date header) differ by more than a minute: the audit-user query starts at the earlier of the two; check the host's time synchronisation"
        );
        families()
            .clock_skew
            .get_or_create(&integration_labels(self.integration))
            .set(skew);
    }
}

/// A page held audit users without an `id`: they are emitted (once; the next queries recognise
/// them by their digest) as Docusign sent them, without eSignature details.
pub struct UsersWithoutId<'a> {
    pub integration: &'a str,
    pub users: u64,
}

impl UsersWithoutId<'_> {
    pub fn emit(self) {
        tracing::warn!(
            integration = self.integration,
            users = self.users,
            "audit users without an id emitted as Docusign sent them (recognised by their content from now on)"
        );
        families()
            .users_without_id
            .get_or_create(&integration_labels(self.integration))
            .inc_by(self.users);
    }
}
