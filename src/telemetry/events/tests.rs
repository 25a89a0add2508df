//! The events' counts, read back from the process's `/metrics` text.
use super::*;

fn sample(name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    crate::telemetry::render()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
}

// Each test uses its own integration or sink name: the metrics are the process's.

#[test]
fn a_delivered_page_counts_a_page_and_its_events() {
    for events in [5, 7, 0] {
        PageDelivered {
            integration: "ev-page",
            event_type: EventType::AuditUsers,
            events,
        }
        .emit();
    }
    let l = "integration=\"ev-page\",event_type=\"audit_users\"";
    assert_eq!(sample("docusign_collector_pages_total", l), Some(3.0));
    assert_eq!(sample("docusign_collector_events_total", l), Some(12.0));
}

#[test]
fn pages_in_flight_count_until_the_guard_is_dropped() {
    let l = "integration=\"ev-flight\",event_type=\"customer_events\"";
    let fetched = || {
        PageFetched {
            integration: "ev-flight",
            event_type: EventType::CustomerEvents,
        }
        .emit()
    };
    let (a, b) = (fetched(), fetched());
    assert_eq!(sample("docusign_collector_pages_in_flight", l), Some(2.0));
    drop(a);
    assert_eq!(sample("docusign_collector_pages_in_flight", l), Some(1.0));
    drop(b);
    assert_eq!(sample("docusign_collector_pages_in_flight", l), Some(0.0));
}

#[test]
fn a_finished_cycle_counts_its_outcome_duration_and_success_time() {
    let cycle = |success| CycleFinished {
        integration: "ev-cycle",
        event_type: EventType::CustomerEvents,
        success,
        duration: Duration::from_millis(1_500),
    };
    cycle(false).emit();
    let l = "integration=\"ev-cycle\",event_type=\"customer_events\"";
    let last = "docusign_collector_last_success_timestamp_seconds";
    assert_eq!(sample(last, l), None, "no success yet");
    cycle(true).emit();
    assert!(sample(last, l).is_some_and(|t| t >= (now_unix() - 5) as f64));
    assert_eq!(
        sample(
            "docusign_collector_cycles_total",
            &format!("{l},outcome=\"failure\"")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample("docusign_collector_cycle_duration_seconds_sum", l),
        Some(3.0)
    );
}

#[test]
fn stream_delivered_sets_the_lag() {
    stream_delivered("ev-lag", EventType::CustomerEvents, now_unix() - 120);
    let lag = sample(
        "docusign_collector_cursor_lag_seconds",
        "integration=\"ev-lag\",event_type=\"customer_events\"",
    );
    assert!(lag.is_some_and(|s| (120.0..130.0).contains(&s)), "{lag:?}");
}

#[test]
fn request_side_events_count() {
    ApiResponse {
        integration: "ev-api",
        api: "admin",
        status: 0,
    }
    .emit();
    ApiRetry {
        integration: "ev-api",
        api: "admin",
        attempt: 1,
        delay: Duration::from_millis(10),
        problem: "HTTP 503",
    }
    .emit();
    TokenGrant {
        integration: "ev-api",
        success: true,
    }
    .emit();
    RateLimitWaited {
        integration: "ev-api",
        waited: Duration::from_millis(250),
    }
    .emit();
    BadTimestamps {
        integration: "ev-api",
        events: 4,
    }
    .emit();
    EnrichmentSkipped {
        integration: "ev-api",
        user_id: "u1",
        reason: "unknown_user",
        why: "eSignature answered 404",
    }
    .emit();
    let i = "integration=\"ev-api\"";
    for (name, labels, value) in [
        (
            "docusign_collector_api_requests_total",
            format!("{i},api=\"admin\",status=\"0\""),
            1.0,
        ),
        (
            "docusign_collector_retries_total",
            format!("{i},api=\"admin\""),
            1.0,
        ),
        (
            "docusign_collector_token_grants_total",
            format!("{i},outcome=\"success\""),
            1.0,
        ),
        ("docusign_collector_rate_limit_waits_total", i.into(), 1.0),
        (
            "docusign_collector_rate_limit_wait_seconds_total",
            i.into(),
            0.25,
        ),
        ("docusign_collector_bad_timestamps_total", i.into(), 4.0),
        (
            "docusign_collector_enrichment_skipped_total",
            format!("{i},reason=\"unknown_user\""),
            1.0,
        ),
    ] {
        assert_eq!(sample(name, &labels), Some(value), "{name}{{{labels}}}");
    }
}

#[test]
fn sink_events_count_retries_and_failures() {
    for attempt in 1..=3 {
        SinkRetry {
            sink: "ev-sink",
            attempt,
            delay: Duration::from_millis(1),
            problem: "HTTP 503",
        }
        .emit();
    }
    SinkFailed {
        sink: "ev-sink",
        error: &"rejected",
    }
    .emit();
    let l = "sink=\"ev-sink\"";
    assert_eq!(
        sample("docusign_collector_sink_retries_total", l),
        Some(3.0)
    );
    assert_eq!(sample("docusign_collector_sink_errors_total", l), Some(1.0));
}

#[test]
fn sink_refusals_splits_and_dead_letters_are_counted() {
    SinkRefusalRetry {
        sink: "ev-refusing",
        attempt: 1,
        of: 5,
        delay: Duration::from_millis(1),
        problem: "HTTP 401",
    }
    .emit();
    for _ in 0..2 {
        SinkBatchSplit {
            sink: "ev-refusing",
            events: 10,
            bytes: 2048,
            problem: "HTTP 413",
        }
        .emit();
    }
    SinkDeadLettered {
        sink: "ev-refusing",
        records: 7,
        path: std::path::Path::new("/tmp/dead.jsonl"),
        what: "HTTP 400",
    }
    .emit();
    let l = "sink=\"ev-refusing\"";
    assert_eq!(
        sample("docusign_collector_sink_retries_total", l),
        Some(1.0)
    );
    assert_eq!(
        sample("docusign_collector_sink_batch_splits_total", l),
        Some(2.0)
    );
    assert_eq!(
        sample("docusign_collector_sink_dead_lettered_total", l),
        Some(7.0)
    );
}

#[test]
fn a_stream_restart_is_counted_per_stream() {
    for restart in 1..=2 {
        StreamRestarted {
            integration: "ev-restart",
            event_type: EventType::CustomerEvents,
            restart,
            delay: Duration::from_secs(1),
            message: "boom",
        }
        .emit();
    }
    let l = "integration=\"ev-restart\",event_type=\"customer_events\"";
    assert_eq!(
        sample("docusign_collector_stream_restarts_total", l),
        Some(2.0)
    );
}
