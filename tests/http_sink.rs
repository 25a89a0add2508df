//! The HTTP sink end to end: formats, gzip, batching, outages, rejections, fan-out.

mod common;

use common::receiver::Receiver;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

fn http_sink(url: &str, extra: &str) -> String {
    format!("[[sinks]]\ntype = \"http\"\nurl = \"{url}\"\nretry_max = \"100ms\"\n{extra}\n")
}

fn ids_of(events: &[Value], key: impl Fn(&Value) -> &Value) -> Vec<String> {
    events
        .iter()
        .map(|e| key(e)["eventId"].as_str().expect("eventId").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_delivers_10000_events_exactly_once() {
    for (format, gzip) in [
        ("ndjson", false),
        ("ndjson", true),
        ("json_array", false),
        ("splunk_hec", true),
    ] {
        let recv = Receiver::default();
        let url = recv.start().await;
        let token = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(token.path(), "s3cr3t-hec-token\n").unwrap();
        let mut env = Env::start(sim_config(10_000)).await;
        env.file_sink = false;
        env.extra = http_sink(
            &url,
            &format!(
                "format = \"{format}\"\ngzip = {gzip}\ntoken_file = \"{}\"",
                token.path().display()
            ),
        );
        let out = env.run(&["once"], &[]).await;
        assert_success(&out);
        assert!(
            !stderr(&out).contains("s3cr3t"),
            "the sink token never reaches a log"
        );
        let events = recv.events();
        let ids = if format == "splunk_hec" {
            for e in &events {
                assert_eq!(e["sourcetype"], "docusign:customer_events");
                assert_eq!(e["source"], "docusign");
                assert!(e["time"].is_i64() && e["host"].is_string());
            }
            ids_of(&events, |e| &e["event"])
        } else {
            ids_of(&events, |e| e)
        };
        assert_eq!(ids.len(), 10_000, "{format} gzip={gzip}");
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            10_000,
            "{format}: exactly once"
        );
        let inner = recv.lock();
        let auth = inner.posts[0]
            .2
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let scheme = if format == "splunk_hec" {
            "Splunk"
        } else {
            "Bearer"
        };
        assert_eq!(auth, format!("{scheme} s3cr3t-hec-token"));
        let ct = inner.posts[0]
            .2
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            ct,
            if format == "ndjson" {
                "application/x-ndjson"
            } else {
                "application/json"
            }
        );
        assert_eq!(inner.posts[0].2.get("content-encoding").is_some(), gzip);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_respect_the_event_and_byte_limits() {
    let recv = Receiver::default();
    let url = recv.start().await;
    let mut env = Env::start(sim_config(3_000)).await;
    env.file_sink = false;
    env.extra = http_sink(&url, "batch_max_events = 300\nbatch_max_bytes = 65536");
    assert_success(&env.run(&["once"], &[]).await);
    let inner = recv.lock();
    assert_eq!(inner.events.len(), 3_000);
    assert!(inner.posts.len() >= 10);
    for (events, bytes, _) in &inner.posts {
        assert!(*events <= 300, "{events} events in one post");
        assert!(*bytes <= 65_536, "{bytes} bytes in one post");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_20_posts_loses_nothing() {
    let recv = Receiver::default();
    {
        let mut r = recv.lock();
        r.fail_next = 20;
        r.fail_status = 503;
    }
    let url = recv.start().await;
    let mut env = Env::start(sim_config(5_000)).await;
    env.file_sink = false;
    env.extra = http_sink(&url, "batch_max_events = 1000");
    assert_success(&env.run(&["once"], &[]).await);
    let ids = ids_of(&recv.events(), |e| e);
    assert_eq!(ids.len(), 5_000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 5_000);
    assert!(recv.lock().attempts >= 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_names_the_sink_and_keeps_the_cursor() {
    let recv = Receiver::default();
    recv.lock().always = Some(401);
    let url = recv.start().await;
    let mut env = Env::start(sim_config(500)).await;
    env.file_sink = false;
    env.extra = http_sink(&url, "name = \"siem\"");
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("siem") && err.contains("401"), "{err}");
    let state = env.run(&["state", "--json"], &[]).await;
    let v: Value = serde_json::from_slice(&state.stdout).unwrap();
    assert!(v[0]["streams"][0]["cursor"].is_null(), "cursor stays: {v}");
    assert!(v[0]["streams"][0]["last_run"]["error"]
        .as_str()
        .unwrap_or("")
        .contains("401"));
    // Once the receiver accepts again, everything arrives.
    recv.lock().always = None;
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(recv.events().len(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_file_takes_a_rejected_batch_and_collection_moves_on() {
    let recv = Receiver::default();
    recv.lock().always = Some(400);
    let url = recv.start().await;
    let mut env = Env::start(sim_config(300)).await;
    env.file_sink = false;
    let dl = env.path("dead.jsonl");
    env.extra = http_sink(&url, &format!("dead_letter_path = \"{}\"", dl.display()));
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(read_jsonl(&dl).len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_during_an_outage_loses_nothing() {
    let recv = Receiver::default();
    recv.lock().always = Some(503);
    let url = recv.start().await;
    let mut env = Env::start(sim_config(4_000)).await;
    env.file_sink = false;
    env.customer_events = "page_size = 1000\nstart_from = \"30d\"\n".into();
    env.extra = http_sink(&url, "");
    let mut child = env.spawn(&["run"]);
    assert!(
        eventually(10, || recv.lock().attempts >= 5).await,
        "posts were attempted"
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    recv.lock().always = None;
    assert_success(&env.run(&["once"], &[]).await);
    let ids = ids_of(&recv.events(), |e| e);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        4_000,
        "nothing lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_an_outage_exits_within_the_bound() {
    let recv = Receiver::default();
    recv.lock().always = Some(503);
    let url = recv.start().await;
    let mut env = Env::start(sim_config(1_000)).await;
    env.file_sink = false;
    env.top = "shutdown_timeout = \"3s\"".into();
    env.extra = http_sink(&url, "");
    let mut child = env.spawn(&["run"]);
    assert!(
        eventually(10, || recv.lock().attempts >= 3).await,
        "posts were attempted"
    );
    let (status, took) = terminate(&mut child).await;
    assert!(took < Duration::from_secs(8), "took {:?}", took);
    assert!(status.success());
    let state = env.run(&["state", "--json"], &[]).await;
    let v: Value = serde_json::from_slice(&state.stdout).unwrap();
    assert!(
        v[0]["streams"][0]["cursor"].is_null(),
        "no page was accepted, no cursor saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_sinks_one_failing_for_a_while_both_get_everything_and_the_healthy_one_no_duplicates(
) {
    let healthy = Receiver::default();
    let flaky = Receiver::default();
    {
        let mut f = flaky.lock();
        f.fail_next = 15;
        f.fail_status = 502;
    }
    let (hu, fu) = (healthy.start().await, flaky.start().await);
    let mut env = Env::start(sim_config(6_000)).await;
    env.file_sink = false;
    env.customer_events = "page_size = 1000\nstart_from = \"30d\"\n".into();
    env.extra = format!(
        "{}\n{}",
        http_sink(&hu, "name = \"a\""),
        http_sink(&fu, "name = \"b\"")
    );
    assert_success(&env.run(&["once"], &[]).await);
    for r in [&healthy, &flaky] {
        let ids = ids_of(&r.events(), |e| e);
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 6_000);
    }
    assert_eq!(
        healthy.events().len(),
        6_000,
        "the healthy sink got no duplicates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rejection_the_retry_skips_the_sink_that_already_accepted() {
    let healthy = Receiver::default();
    let rejecting = Receiver::default();
    rejecting.lock().always = Some(403);
    let (hu, ru) = (healthy.start().await, rejecting.start().await);
    let mut env = Env::start(sim_config(2_500)).await;
    env.file_sink = false;
    env.customer_events = "page_size = 1000\nstart_from = \"30d\"\n".into();
    env.extra = format!(
        "{}\n{}",
        http_sink(&hu, "name = \"a\""),
        http_sink(&ru, "name = \"b\"")
    );
    assert!(!env.run(&["once"], &[]).await.status.success());
    assert!(!env.run(&["once"], &[]).await.status.success());
    assert_eq!(
        healthy.events().len(),
        1_000,
        "the first page, once, although it was retried"
    );
    rejecting.lock().always = None;
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(
        healthy.events().len(),
        2_500,
        "no duplicates in the healthy sink"
    );
    assert_eq!(rejecting.events().len(), 2_500);
}
