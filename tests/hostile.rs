//! Hostile answers: a page too large to hold, a body cut mid-way, JSON nested 100,000 deep,
//! events that are not objects, timestamps in every odd form, and an `endCursor` that goes
//! backwards. The collector must not panic, must not save a cursor past what was delivered,
//! must keep its memory bounded, and must name the integration and the API in its error.

mod common;

use common::*;
use docusign_collector::sources::Checkpoint;
use docusign_collector::state::State;
use docusign_sim::Api;
use std::time::Duration;

/// Where the stream starts, so a scripted page can name the cursor that was sent.
const START: &str = "2020-01-01T00:00:00Z";

async fn env(backlog: usize) -> Env {
    let mut env = Env::start(sim_config(backlog)).await;
    env.customer_events = format!("page_size = 2000\nstart_from = \"{START}\"\n");
    env.integration_extra
        .push_str("\n[integrations.retry]\nmax_attempts = 3\ninitial = \"10ms\"\nmax = \"50ms\"\n");
    env
}

fn saved_cursor(env: &Env) -> Option<String> {
    State::open(&env.state_path())
        .expect("state")
        .cursor(
            "acme",
            docusign_collector::record::EventType::CustomerEvents,
        )
        .expect("cursor query")
}

/// The child's peak RSS in MiB while it runs; its exit status.
async fn run_measured(env: &Env) -> (std::process::ExitStatus, f64) {
    let mut child = env.spawn(&["once"]);
    let pid = child.id().expect("pid");
    let mut peak_kib = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Ok(status) = tokio::time::timeout(Duration::from_millis(20), child.wait()).await {
            return (status.expect("wait"), peak_kib as f64 / 1024.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_page_is_refused_with_memory_bounded_and_no_cursor_saved() {
    let env = env(10).await;
    let event = format!(
        r#"{{"timestamp":"2024-01-01T00:00:00Z","pad":"{}"}}"#,
        "x".repeat(1000)
    );
    let events = vec![event; 50_000].join(",");
    let page = format!(r#"{{"endCursor":"far","data":[{events}]}}"#);
    assert!(page.len() > 50_000_000);
    env.sim.garble_next(Api::Monitor, 1, &page);
    drop(page);
    let (status, peak) = run_measured(&env).await;
    assert_eq!(status.code(), Some(1), "a clean failure, not a crash");
    assert!(
        peak < 64.0,
        "peak RSS {peak:.1} MiB: the answer was not held whole"
    );
    assert_eq!(saved_cursor(&env), None, "nothing delivered, nothing saved");
    assert!(env.events().is_empty());
    let out = env.run(&["once"], &[]).await;
    assert_success(&out);
    assert_eq!(env.events().len(), 10, "the next cycle collects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_error_for_a_too_large_page_names_the_integration_and_the_api() {
    let env = env(0).await;
    env.sim.garble_next(
        Api::Monitor,
        1,
        &format!("[{}]", "0,".repeat(20_000_000) + "0"),
    );
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    let log = stderr(&out);
    assert!(
        log.contains("acme") && log.contains("monitor") && log.contains("larger than 32 MiB"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_mid_way_is_retried() {
    let env = env(300).await;
    env.sim.garble_next(
        Api::Monitor,
        1,
        r#"{"endCursor":"x","data":[{"timestamp":"2024"#,
    );
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 300);
    assert_eq!(duplicates(&event_ids(&env.events())), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nested_100000_deep_is_kept_as_an_event_or_refused_cleanly() {
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // As an event: kept under `event` (its bytes are passed on, never parsed), also with
    // change_keys (the full parse gives up at serde_json's depth limit and keeps the bytes).
    for change_keys in [false, true] {
        let mut env = env(0).await;
        env.integration_extra = format!("change_keys = {change_keys}\n{}", env.integration_extra);
        let page = format!(r#"{{"endCursor":"{START}","data":[{}]}}"#, nest(100_000));
        env.sim.garble_next(Api::Monitor, 1, &page);
        let out = env.run(&["once"], &[]).await;
        assert_success(&out);
        let text = std::fs::read_to_string(env.events_path()).expect("events");
        assert_eq!(text.lines().count(), 1, "one record");
        assert!(text.contains(&nest(1_000)), "its bytes kept");
        assert!(text.contains(r#""_integration":"acme""#));
    }
    // Where the envelope must be read: a clear error, nothing saved, the next cycle collects.
    let env = env(20).await;
    let page = format!(r#"{{"endCursor":{},"data":[]}}"#, nest(100_000));
    env.sim.garble_next(Api::Monitor, 1, &page);
    let out = env.run(&["once"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "no panic, no stack overflow");
    let log = stderr(&out);
    assert!(log.contains("acme") && log.contains("monitor"), "{log}");
    assert_eq!(saved_cursor(&env), None);
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_that_are_not_objects_and_odd_timestamps_are_all_kept() {
    let env = env(0).await;
    let page = format!(
        r#"{{"endCursor":"{START}","data":[1,"text",null,[1,2],true,
        {{"eventId":"a","timestamp":""}},
        {{"eventId":"b","timestamp":"2023-13-45T99:99:99Z"}},
        {{"eventId":"c","timestamp":1699999999}},
        {{"eventId":"d","timestamp":"2023-03-03 09:10:06"}},
        {{"eventId":"e","timestamp":"2023-03-03T09:10:06+05:30"}},
        {{"eventId":"f","timestamp":"2023-03-03T09:10:06.123456789Z"}},
        {{"eventId":"g","timestamp":"2023-03-03T09:10:06"}},
        {{"eventId":"h","timestamp":"garbage"}},
        {{"eventId":"i"}}]}}"#
    );
    env.sim.garble_next(Api::Monitor, 1, &page);
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 14, "every element kept");
    for e in &events {
        let t = e["_time"].as_str().expect("_time");
        assert!(t.len() == 20 && t.ends_with('Z'), "{e}");
        assert_eq!(e["_integration"], "acme");
    }
    let by_id = |id: &str| {
        events
            .iter()
            .find(|e| e["eventId"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    assert_eq!(
        by_id("e")["_time"],
        "2023-03-03T03:40:06Z",
        "offsets are applied"
    );
    assert_eq!(
        by_id("f")["_time"],
        "2023-03-03T09:10:06Z",
        "nine fraction digits"
    );
    assert_eq!(events[0]["event"], 1, "a non-object is kept under `event`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_cursor_that_goes_backwards_loses_nothing() {
    let env = env(500).await;
    assert_success(&env.run(&["once"], &[]).await);
    let first = saved_cursor(&env).expect("a cursor after the backlog");
    // The next answer claims the stream is back at its start.
    env.sim.append_events(50);
    env.sim.garble_next(
        Api::Monitor,
        1,
        &format!(r#"{{"endCursor":"{START}","data":[]}}"#),
    );
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(
        docusign_collector::sources::monitor::MonitorCursor::decode(
            &saved_cursor(&env).expect("cursor")
        )
        .map(|c| c.0),
        Some(START.to_string()),
        "the cursor Docusign gave is kept: it re-reads, never skips"
    );
    assert_ne!(first, START);
    // The next cycle reads from there again: duplicates, but every event is delivered.
    assert_success(&env.run(&["once"], &[]).await);
    let ids = event_ids(&env.events());
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 550, "every event delivered");
}
