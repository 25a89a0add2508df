//! `/metrics` of a running daemon: every declared family is there (samples or not), in
//! OpenMetrics text, and the delivered-events counter equals what the sink received.

mod common;

use common::*;
use docusign_collector::telemetry::{CONTENT_TYPE, FAMILIES};
use docusign_sim::SimConfig;

/// The samples of `name` (`name{labels} value` lines), as (labels, value).
fn samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    let prefix = format!("{name}{{");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (labels, value) = rest.rsplit_once("} ")?;
            Some((labels, value.parse().ok()?))
        })
        .collect()
}

fn total(text: &str, name: &str) -> f64 {
    samples(text, name).iter().map(|(_, v)| v).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_is_scraped_and_delivered_events_match_the_sink() {
    let mut env = Env::start(SimConfig {
        users: 12,
        esign_unknown_users: 2,
        ..sim_config(500)
    })
    .await;
    env.integration_extra = "event_types = [\"customer_events\", \"audit_users\"]".into();
    let port = free_port();
    env.extra = format!("[api]\nlisten = \"127.0.0.1:{port}\"\n");
    let child = env.spawn(&["run"]);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let http = reqwest::Client::new();
    let path = env.events_path();
    assert!(
        eventually(60, || complete_lines(&path) >= 512).await,
        "collected"
    );

    // The counter is raised once every sink has the page: poll until both sides agree.
    let mut scraped = (String::new(), String::new());
    let mut delivered = (0.0, 0);
    for _ in 0..200 {
        let resp = match http.get(&url).send().await {
            Ok(r) => r,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = resp.text().await.unwrap_or_default();
        delivered = (
            total(&text, "docusign_collector_events_total"),
            complete_lines(&path),
        );
        scraped = (content_type, text);
        if delivered.0 == delivered.1 as f64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (content_type, text) = scraped;
    assert_eq!(
        delivered.0, delivered.1 as f64,
        "events counter vs lines in the file sink\n{text}"
    );
    assert_eq!(
        read_jsonl(&path).len(),
        delivered.1,
        "every line is a record"
    );
    assert_eq!(content_type, CONTENT_TYPE);
    assert!(text.ends_with("# EOF\n"), "{text}");

    for name in FAMILIES {
        assert!(
            text.contains(&format!("\n# TYPE {name} ")),
            "{name} missing\n{text}"
        );
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("docusign_collector_"), "{line}");
    }
    // Per stream: both event types have their lag, last success and cycle durations.
    for et in ["customer_events", "audit_users"] {
        let stream = format!("integration=\"acme\",event_type=\"{et}\"");
        for name in [
            "docusign_collector_cursor_lag_seconds",
            "docusign_collector_last_success_timestamp_seconds",
            "docusign_collector_cycle_duration_seconds_count",
            "docusign_collector_pages_in_flight",
        ] {
            assert!(
                samples(&text, name)
                    .iter()
                    .any(|(l, _)| l.contains(&stream)),
                "{name}{{{stream}}} missing\n{text}"
            );
        }
    }
    // Customer events were spread over the last 24 h: the newest is at most a day old.
    let lag = samples(&text, "docusign_collector_cursor_lag_seconds");
    assert!(
        lag.iter().all(|(_, v)| (0.0..=86_400.0 + 60.0).contains(v)),
        "{lag:?}"
    );
    // Each cycle looks the two unknown users up again (then drops them as already emitted).
    assert!(
        total(&text, "docusign_collector_enrichment_skipped_total") >= 2.0,
        "{text}"
    );
    assert!(total(&text, "docusign_collector_api_requests_total") > 0.0);
    sigterm(&child);
}
