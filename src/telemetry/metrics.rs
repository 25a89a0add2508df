//! Process-wide counters and gauges, rendered as Prometheus text by the local API.
//! Every metric name starts with `docusign_collector_`. Updated per request or per page,
//! never per event, so the lock is cheap.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), f64>>,
    gauges: Mutex<BTreeMap<(&'static str, Labels), f64>>,
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

/// The process's metrics.
pub fn global() -> &'static Metrics {
    GLOBAL.get_or_init(Metrics::default)
}

const HELP: &[(&str, &str, &str)] = &[
    (
        "docusign_collector_api_requests_total",
        "counter",
        "Docusign API responses by integration, API and HTTP status (0 = no response).",
    ),
    (
        "docusign_collector_token_grants_total",
        "counter",
        "OAuth JWT grants by integration and outcome.",
    ),
    (
        "docusign_collector_retries_total",
        "counter",
        "Docusign API requests retried, by integration and API.",
    ),
    (
        "docusign_collector_rate_limit_waits_total",
        "counter",
        "Times a request waited for the rate budget, by integration.",
    ),
    (
        "docusign_collector_rate_limit_wait_seconds_total",
        "counter",
        "Total time spent waiting for the rate budget, by integration.",
    ),
    (
        "docusign_collector_events_total",
        "counter",
        "Records delivered to every sink, by integration and event type.",
    ),
    (
        "docusign_collector_pages_total",
        "counter",
        "Pages fetched and delivered, by integration and event type.",
    ),
    (
        "docusign_collector_bad_timestamps_total",
        "counter",
        "Events whose time could not be read (collection time used instead).",
    ),
    (
        "docusign_collector_cycles_total",
        "counter",
        "Collection cycles by integration, event type and outcome.",
    ),
    (
        "docusign_collector_sink_errors_total",
        "counter",
        "Failed deliveries by sink.",
    ),
    (
        "docusign_collector_last_success_timestamp_seconds",
        "gauge",
        "End of the last successful cycle (Unix seconds).",
    ),
];

impl Metrics {
    pub fn add(&self, name: &'static str, labels: Labels, v: f64) {
        let mut m = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((name, labels)).or_insert(0.0) += v;
    }

    pub fn set(&self, name: &'static str, labels: Labels, v: f64) {
        let mut m = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        m.insert((name, labels), v);
    }

    pub fn api_request(&self, integration: &str, api: &str, status: u16) {
        self.add(
            "docusign_collector_api_requests_total",
            vec![
                ("integration", integration.into()),
                ("api", api.into()),
                ("status", status.to_string()),
            ],
            1.0,
        );
    }

    pub fn token_grant(&self, integration: &str, ok: bool) {
        let outcome = if ok { "success" } else { "failure" };
        self.add(
            "docusign_collector_token_grants_total",
            vec![
                ("integration", integration.into()),
                ("outcome", outcome.into()),
            ],
            1.0,
        );
    }

    pub fn retry(&self, integration: &str, api: &str) {
        self.add(
            "docusign_collector_retries_total",
            vec![("integration", integration.into()), ("api", api.into())],
            1.0,
        );
    }

    pub fn rate_limit_wait(&self, integration: &str, seconds: f64) {
        let l = vec![("integration", integration.to_string())];
        self.add("docusign_collector_rate_limit_waits_total", l.clone(), 1.0);
        self.add(
            "docusign_collector_rate_limit_wait_seconds_total",
            l,
            seconds,
        );
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let gauges = self
            .gauges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let source = if *kind == "counter" {
                &counters
            } else {
                &gauges
            };
            for ((n, labels), v) in source.iter().filter(|((n, _), _)| n == name) {
                let l: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| {
                        format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
                    })
                    .collect();
                let _ = writeln!(out, "{n}{{{}}} {v}", l.join(","));
            }
        }
        out
    }
}
