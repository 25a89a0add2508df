//! The process's metrics, through `prometheus-client`: every family is declared once, in
//! [`declare!`] below, with its name, type, help and typed labels; declaring it registers it, so a
//! family cannot be counted without being rendered. Only `telemetry::events` updates them, per
//! request or per page, never per event.
//!
//! `/metrics` is OpenMetrics text ([`CONTENT_TYPE`]), which Prometheus scrapes natively. Counters are
//! declared without `_total`: the encoder appends it to their samples
//! (`docusign_collector_events_total{…}`), as OpenMetrics wants. Every declared family shows its
//! `# HELP`/`# TYPE` lines even before its first sample.

use super::labels::{
    ApiLabels, ApiRetryLabels, CycleLabels, EnrichmentLabels, GrantLabels, IntegrationLabels,
    SinkLabels, StreamLabels,
};
use crate::support::clock::now_unix;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

/// The `Content-Type` of [`render`]'s answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of `cycle_duration_seconds`: from a caught-up poll (50 ms) to a long backlog (1 h).
pub const CYCLE_BUCKETS: [f64; 15] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Declares the families: the struct that holds them, their registration and [`FAMILIES`], from
/// one list. `= expr` gives a constructor when `Default` does not fit.
macro_rules! declare {
    ($($field:ident: $ty:ty $(= $make:expr)?, $name:literal, $help:literal;)*) => {
        /// Every declared family, updated by `telemetry::events`.
        pub(super) struct Families {
            $(pub(super) $field: $ty,)*
        }

        /// The name of every declared family, as its `# TYPE` line shows it (counters' samples
        /// add `_total`).
        pub const FAMILIES: &[&str] = &[$(concat!("docusign_collector_", $name)),*];

        impl Families {
            fn register(registry: &mut Registry) -> Families {
                let families = Families {
                    $($field: declare!(@make $($make)?),)*
                };
                $(registry.register(
                    concat!("docusign_collector_", $name),
                    $help,
                    Listed(families.$field.clone()),
                );)*
                families
            }
        }
    };
    (@make $make:expr) => { $make };
    (@make) => { Default::default() };
}

declare! {
    api_requests: Family<ApiLabels, Counter>, "api_requests",
        "Docusign API responses by integration, API and HTTP status (0 = no response)";
    token_grants: Family<GrantLabels, Counter>, "token_grants",
        "OAuth JWT grants by integration and outcome";
    retries: Family<ApiRetryLabels, Counter>, "retries",
        "Docusign API requests retried, by integration and API";
    rate_limit_waits: Family<IntegrationLabels, Counter>, "rate_limit_waits",
        "Times a request waited for the rate budget, by integration";
    rate_limit_wait_seconds: Family<IntegrationLabels, Counter<f64, AtomicU64>>,
        "rate_limit_wait_seconds",
        "Total time spent waiting for the rate budget, by integration";
    events: Family<StreamLabels, Counter>, "events",
        "Records delivered to every sink, by integration and event type";
    pages: Family<StreamLabels, Counter>, "pages",
        "Pages fetched and delivered, by integration and event type";
    bad_timestamps: Family<IntegrationLabels, Counter>, "bad_timestamps",
        "Events whose time could not be read (collection time used instead)";
    enrichment_skipped: Family<EnrichmentLabels, Counter>, "enrichment_skipped",
        "Audit users emitted without eSignature details, by integration and reason";
    cycles: Family<CycleLabels, Counter>, "cycles",
        "Collection cycles by integration, event type and outcome";
    sink_errors: Family<SinkLabels, Counter>, "sink_errors",
        "Failed deliveries by sink";
    sink_retries: Family<SinkLabels, Counter>, "sink_retries",
        "Deliveries retried by a sink (outages; redirects and configuration refusals, tried a few times), by sink";
    sink_batch_splits: Family<SinkLabels, Counter>, "sink_batch_splits",
        "Bodies a sink's receiver refused as too large (413) and that were sent again in halves, by sink";
    sink_dead_lettered: Family<SinkLabels, Counter>, "sink_dead_lettered",
        "Records written to a sink's dead-letter file (refused by the receiver for what they are), by sink";
    last_success: Family<StreamLabels, Gauge>, "last_success_timestamp_seconds",
        "End of the last successful cycle (Unix seconds), by integration and event type";
    cursor_lag: Family<StreamLabels, Lag>, "cursor_lag_seconds",
        "Now minus the newest delivered _time (seconds; grows while nothing arrives), by integration and event type";
    cycle_duration: Family<StreamLabels, Histogram, fn() -> Histogram>
        = Family::new_with_constructor(cycle_histogram as fn() -> Histogram),
        "cycle_duration_seconds",
        "Duration of collection cycles (seconds), by integration and event type";
    pages_in_flight: Family<StreamLabels, Gauge>, "pages_in_flight",
        "Pages fetched and not yet delivered, by integration and event type";
    config_reload_failures: Counter, "config_reload_failures",
        "Configuration reloads (SIGHUP) refused because the new configuration is invalid";
    leases_held: Gauge, "leases_held",
        "Integrations whose lease this replica holds (replicas sharing PostgreSQL)";
    lease_takeovers: Counter, "lease_takeovers",
        "Leases this replica took over from a replica that stopped renewing them";
    leases_lost: Counter, "leases_lost",
        "Leases this replica lost (not renewed in time, or taken by another replica)";
    fenced_writes: Family<IntegrationLabels, Counter>, "fenced_writes",
        "Checkpoint, value or token writes refused because another replica holds the lease now";
    stream_restarts: Family<StreamLabels, Counter>, "stream_restarts",
        "Streams restarted after their task panicked, by integration and event type";
}

fn cycle_histogram() -> Histogram {
    Histogram::new(CYCLE_BUCKETS)
}

/// The registry and its families.
pub(super) struct Telemetry {
    registry: Registry,
    pub(super) families: Families,
}

impl Telemetry {
    pub(super) fn new() -> Telemetry {
        let mut registry = Registry::default();
        let families = Families::register(&mut registry);
        Telemetry { registry, families }
    }

    /// OpenMetrics text of every family.
    pub(super) fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing to a String does not fail; say so rather than serve half an answer silently.
            tracing::error!("metrics could not be encoded: {e}");
        }
        out
    }
}

static GLOBAL: LazyLock<Telemetry> = LazyLock::new(Telemetry::new);

/// The process's families.
pub(super) fn families() -> &'static Families {
    &GLOBAL.families
}

/// The process's metrics as OpenMetrics text (serve with [`CONTENT_TYPE`]).
pub fn render() -> String {
    GLOBAL.render()
}

/// Registers a family so that it always shows its `# HELP` and `# TYPE` lines, samples or not
/// (prometheus-client leaves out families that have none).
#[derive(Debug)]
struct Listed<M>(M);

impl<M: EncodeMetric> EncodeMetric for Listed<M> {
    fn encode(&self, encoder: MetricEncoder) -> std::fmt::Result {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }

    fn is_empty(&self) -> bool {
        false
    }
}

/// A stream's cursor lag: it keeps the newest delivered `_time` and answers `now − newest` at
/// scrape time, so the lag grows while nothing arrives.
#[derive(Debug, Clone)]
pub(super) struct Lag {
    newest: Arc<AtomicI64>,
}

/// No delivery recorded yet.
const NEVER: i64 = i64::MIN;

impl Default for Lag {
    fn default() -> Lag {
        Lag {
            newest: Arc::new(AtomicI64::new(NEVER)),
        }
    }
}

impl Lag {
    /// Remember `newest` if it is newer than what was delivered before.
    pub(super) fn delivered(&self, newest: i64) {
        self.newest.fetch_max(newest, Ordering::Relaxed);
    }

    /// The lag at `now` (never negative: an event stamped in the future counts as no lag).
    pub(super) fn at(&self, now: i64) -> Option<i64> {
        match self.newest.load(Ordering::Relaxed) {
            NEVER => None,
            newest => Some(now.saturating_sub(newest).max(0)),
        }
    }
}

impl TypedMetric for Lag {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for Lag {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        match self.at(now_unix()) {
            Some(lag) => encoder.encode_gauge(&lag),
            None => Ok(()),
        }
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::super::labels::Outcome;
    use super::*;
    use crate::record::EventType;

    fn stream(integration: &str) -> StreamLabels {
        StreamLabels::new(integration, EventType::CustomerEvents)
    }

    #[test]
    fn every_declared_family_shows_before_its_first_sample() {
        let text = Telemetry::new().render();
        for name in FAMILIES {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}: {text}");
        }
        assert_eq!(
            text.lines().filter(|l| l.starts_with("# TYPE ")).count(),
            FAMILIES.len()
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut names = FAMILIES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len());
        assert!(FAMILIES.iter().all(|n| n.starts_with("docusign_collector_")
            && !n.ends_with("_total")
            && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    }

    #[test]
    fn counters_render_with_total_and_typed_labels() {
        let t = Telemetry::new();
        let f = &t.families;
        f.sink_retries
            .get_or_create(&SinkLabels {
                sink: "siem \"a\"".into(),
            })
            .inc();
        f.api_requests
            .get_or_create(&ApiLabels {
                integration: "acme".into(),
                api: "monitor",
                status: 200,
            })
            .inc_by(3);
        f.cycles
            .get_or_create(&CycleLabels {
                integration: "acme".into(),
                event_type: EventType::AuditUsers,
                outcome: Outcome::Failure,
            })
            .inc();
        f.rate_limit_wait_seconds
            .get_or_create(&IntegrationLabels {
                integration: "acme".into(),
            })
            .inc_by(1.5);
        let text = t.render();
        for line in [
            "docusign_collector_sink_retries_total{sink=\"siem \\\"a\\\"\"} 1",
            "docusign_collector_api_requests_total{integration=\"acme\",api=\"monitor\",status=\"200\"} 3",
            "docusign_collector_cycles_total{integration=\"acme\",event_type=\"audit_users\",outcome=\"failure\"} 1",
            "docusign_collector_rate_limit_wait_seconds_total{integration=\"acme\"} 1.5",
            "# TYPE docusign_collector_sink_retries counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }

    #[test]
    fn lag_is_computed_at_scrape_time_from_the_newest_delivered_time() {
        let lag = Lag::default();
        assert_eq!(lag.at(1_000), None, "no sample before a delivery");
        lag.delivered(900);
        lag.delivered(800);
        assert_eq!(lag.at(1_000), Some(100), "an older page does not go back");
        assert_eq!(lag.at(1_060), Some(160), "grows while nothing arrives");
        lag.delivered(2_000);
        assert_eq!(lag.at(1_060), Some(0), "never negative");

        let t = Telemetry::new();
        t.families
            .cursor_lag
            .get_or_create(&stream("acme"))
            .delivered(now_unix() - 3_600);
        let line = t
            .render()
            .lines()
            .find(|l| l.starts_with("docusign_collector_cursor_lag_seconds{"))
            .map(str::to_string)
            .unwrap_or_default();
        let value: i64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        assert!((3_600..3_610).contains(&value), "{line}");
    }

    #[test]
    fn a_stream_without_delivery_has_no_lag_sample() {
        let t = Telemetry::new();
        drop(t.families.cursor_lag.get_or_create(&stream("idle")));
        let text = t.render();
        assert!(text.contains("# TYPE docusign_collector_cursor_lag_seconds gauge"));
        assert!(
            !text.contains("docusign_collector_cursor_lag_seconds{"),
            "{text}"
        );
    }

    #[test]
    fn cycle_durations_fall_in_buckets_from_50_ms_to_an_hour() {
        let t = Telemetry::new();
        let h = t.families.cycle_duration.get_or_create(&stream("acme"));
        h.observe(0.03);
        h.observe(42.0);
        h.observe(7_200.0);
        drop(h);
        let text = t.render();
        for line in [
            "# TYPE docusign_collector_cycle_duration_seconds histogram",
            "docusign_collector_cycle_duration_seconds_bucket{le=\"0.05\",integration=\"acme\",event_type=\"customer_events\"} 1",
            "docusign_collector_cycle_duration_seconds_bucket{le=\"60.0\",integration=\"acme\",event_type=\"customer_events\"} 2",
            "docusign_collector_cycle_duration_seconds_bucket{le=\"3600.0\",integration=\"acme\",event_type=\"customer_events\"} 2",
            "docusign_collector_cycle_duration_seconds_bucket{le=\"+Inf\",integration=\"acme\",event_type=\"customer_events\"} 3",
            "docusign_collector_cycle_duration_seconds_count{integration=\"acme\",event_type=\"customer_events\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }
}
