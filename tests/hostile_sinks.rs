//! Hostile sinks: a receiver behind an SSO proxy that redirects to a login page, one with a
//! 64 KiB body limit, one whose token expired, one record too large for any body, sinks whose
//! names or files collide, and two sinks on one URL where one refuses. Whatever the receiver
//! answers, no event is lost, none is counted delivered that was not accepted, nothing is
//! dead-lettered that the receiver did not refuse for what it is, and the token never shows.

mod common;
#[path = "hostile_sinks/receiver.rs"]
mod receiver;

use common::*;
use docusign_collector::record::EventType;
use docusign_collector::state::State;
use docusign_sim::Api;
use receiver::Hostile;
use serde_json::Value;
use std::collections::HashSet;

const TOKEN: &str = "hec-t0ken-5ecr3t";

/// An `[[sinks]]` table for an HTTP sink at `url` with fast retries and the token `token`.
fn sink(env: &Env, url: &str, token: &str, extra: &str) -> String {
    let file = env.path(&format!("token-{token}"));
    std::fs::write(&file, format!("{token}\n")).unwrap();
    format!(
        "[[sinks]]\ntype = \"http\"\nurl = \"{url}\"\ntoken_file = \"{}\"\nretry_initial = \"10ms\"\nretry_max = \"50ms\"\n{extra}\n",
        file.display()
    )
}

/// An environment without the file sink, collecting `backlog` events in pages of 1,000.
async fn env(backlog: usize) -> Env {
    let mut env = Env::start(sim_config(backlog)).await;
    env.file_sink = false;
    env.customer_events = "page_size = 1000\nstart_from = \"30d\"\n".into();
    env
}

fn saved_cursor(env: &Env) -> Option<String> {
    State::open(&env.state_path())
        .expect("state")
        .cursor("acme", EventType::CustomerEvents)
        .expect("cursor query")
}

/// `events` hold exactly `n` distinct events, each once.
fn assert_exactly_once(events: &[Value], n: usize) {
    let ids = event_ids(events);
    assert_eq!(duplicates(&ids), 0, "no event twice");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), n, "every event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_redirects_to_a_login_page_gets_every_event_once_it_accepts() {
    let recv = Hostile::default();
    recv.lock().redirect = true;
    let url = recv.start().await;
    let mut env = env(3_000).await;
    env.extra = sink(&env, &url, TOKEN, "name = \"siem\"");
    for _ in 0..2 {
        let out = env.run(&["once"], &[]).await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "a redirect is a failed delivery"
        );
        let log = stderr(&out);
        let port = url.trim_end_matches("/ingest");
        assert!(
            log.contains("sink siem") && log.contains(&format!("Location {port}/login")),
            "names the sink and where it redirects: {log}"
        );
        assert!(!log.contains("t1ck3t"), "the Location's query is left out");
        assert!(!log.contains(TOKEN), "the token never shows");
        assert_eq!(saved_cursor(&env), None, "nothing counted delivered");
    }
    {
        let s = recv.lock();
        assert_eq!(s.login_gets, 0, "the redirect was never followed");
        assert!(s.accepted.is_empty());
        assert_eq!(s.posts, 10, "five attempts a cycle, then the cycle fails");
    }
    recv.lock().redirect = false;
    assert_success(&env.run(&["once"], &[]).await);
    assert_exactly_once(&recv.events(None), 3_000);
    assert!(saved_cursor(&env).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_kib_body_limit_splits_the_batches_and_dead_letters_nothing() {
    for format in ["ndjson", "json_array"] {
        let recv = Hostile::default();
        recv.lock().limit = Some(64 * 1024);
        let url = recv.start().await;
        let mut env = env(6_000).await;
        env.customer_events = "page_size = 2000\nstart_from = \"30d\"\n".into();
        let dead = env.path("dead.jsonl");
        let dl = format!(
            "format = \"{format}\"\ndead_letter_path = \"{}\"",
            dead.display()
        );
        env.extra = sink(&env, &url, TOKEN, &dl);
        let out = env.run(&["once"], &[]).await;
        assert_success(&out);
        assert!(!dead.exists(), "{format}: nothing dead-lettered");
        assert_exactly_once(&recv.events(None), 6_000);
        let s = recv.lock();
        assert!(s.accepted.iter().all(|(_, size, _)| *size <= 64 * 1024));
        assert!(
            s.posts > s.accepted.len(),
            "{format}: bodies were refused, then split"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_sink_token_holds_the_cursor_and_dead_letters_nothing() {
    let recv = Hostile::default();
    {
        // The receiver echoes the token, and says far more than anyone should quote.
        let mut s = recv.lock();
        s.refuse = Some(401);
        s.error_body = format!(
            "{{\"text\":\"Invalid token\",\"code\":4,\"got\":\"Splunk {TOKEN}\"}}\n{}",
            "x".repeat(1 << 20)
        );
    }
    let url = recv.start().await;
    let mut env = env(2_500).await;
    let dead = env.path("dead.jsonl");
    let dl = format!(
        "name = \"splunk\"\nformat = \"splunk_hec\"\ndead_letter_path = \"{}\"",
        dead.display()
    );
    env.extra = sink(&env, &url, TOKEN, &dl);
    for _ in 0..2 {
        let out = env.run(&["once"], &[]).await;
        assert_eq!(out.status.code(), Some(1));
        let log = stderr(&out);
        assert!(
            log.contains("sink splunk") && log.contains("HTTP 401"),
            "{log}"
        );
        assert!(
            log.contains("Invalid token") && log.contains('…'),
            "an excerpt, cut: {log}"
        );
        assert!(!log.contains(TOKEN), "the token never shows: {log}");
        assert!(log.len() < 64 * 1024, "the error body is not quoted whole");
        assert!(
            !dead.exists(),
            "a configuration refusal is never dead-lettered"
        );
        assert_eq!(saved_cursor(&env), None, "the cursor holds");
    }
    let state = env.run(&["state", "--json"], &[]).await;
    let text = String::from_utf8_lossy(&state.stdout).into_owned();
    assert!(!text.contains(TOKEN));
    let v: Value = serde_json::from_str(&text).unwrap();
    let error = v[0]["streams"][0]["last_run"]["error"]
        .as_str()
        .unwrap_or("");
    assert!(error.contains("401"), "the failure is the stream's: {v}");
    recv.lock().refuse = None;
    assert_success(&env.run(&["once"], &[]).await);
    let events: Vec<Value> = recv
        .events(None)
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_exactly_once(&events, 2_500);
}

/// A page of three events, the middle one `pad` bytes large.
fn page_with_a_large_event(pad: usize) -> String {
    let event = |id: &str, pad: usize| {
        format!(
            r#"{{"eventId":"{id}","timestamp":"2024-01-01T00:00:00Z","pad":"{}"}}"#,
            "x".repeat(pad)
        )
    };
    format!(
        r#"{{"endCursor":"2020-01-01T00:00:00Z","data":[{},{},{}]}}"#,
        event("small-1", 10),
        event("huge-1", pad),
        event("small-2", 10)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_alone_is_dead_lettered_or_named() {
    for dead_letter in [true, false] {
        let recv = Hostile::default();
        recv.lock().limit = Some(16 * 1024);
        let url = recv.start().await;
        let mut env = env(0).await;
        env.customer_events = "page_size = 1000\nstart_from = \"2020-01-01T00:00:00Z\"\n".into();
        let dead = env.path("dead.jsonl");
        let dl = if dead_letter {
            format!("dead_letter_path = \"{}\"", dead.display())
        } else {
            String::new()
        };
        env.extra = sink(&env, &url, TOKEN, &dl);
        env.sim
            .garble_next(Api::Monitor, 1, &page_with_a_large_event(100_000));
        let out = env.run(&["once"], &[]).await;
        let delivered = event_ids(&recv.events(None));
        if dead_letter {
            assert_success(&out);
            let set_aside = read_jsonl(&dead);
            assert_eq!(
                event_ids(&set_aside),
                vec!["huge-1"],
                "only the large record"
            );
            assert_eq!(delivered, vec!["small-1", "small-2"]);
        } else {
            assert_eq!(out.status.code(), Some(1));
            let log = stderr(&out);
            assert!(log.contains("huge-1") && log.contains("413"), "{log}");
            assert!(!dead.exists());
            assert_eq!(saved_cursor(&env), None);
            assert_eq!(
                delivered,
                vec!["small-1"],
                "what fits before it is delivered"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_sink_names_and_files_are_refused_by_check_config() {
    let mut env = env(0).await;
    let url = "https://splunk.example.com:8088/services/collector";
    // Two Splunk tokens (two indexes) on one URL, neither named: one derived name.
    env.extra = format!(
        "{}{}",
        sink(&env, url, "tok-a", ""),
        sink(&env, url, "tok-b", "")
    );
    let out = env.run(&["check-config"], &[]).await;
    assert_eq!(out.status.code(), Some(78));
    let log = stderr(&out);
    assert!(
        log.contains("sinks[1].name")
            && log.contains(&format!(
                "the effective name \"http:{url}\" is also sinks[0]'s"
            )),
        "names both sinks: {log}"
    );
    env.extra = format!(
        "{}{}",
        sink(&env, url, "tok-a", "name = \"index-a\""),
        sink(&env, url, "tok-b", "name = \"index-b\"")
    );
    assert_success(&env.run(&["check-config"], &[]).await);
    // Two file sinks on one path, named and written differently.
    let file = |name: &str, path: String| {
        format!("[[sinks]]\ntype = \"file\"\nname = \"{name}\"\npath = \"{path}\"\n")
    };
    let dir = env.dir.path().display().to_string();
    env.extra = format!(
        "{}{}",
        file("one", format!("{dir}/out/events.jsonl")),
        file("two", format!("{dir}/out/../out/./events.jsonl"))
    );
    let out = env.run(&["check-config"], &[]).await;
    assert_eq!(out.status.code(), Some(78));
    let log = stderr(&out);
    assert!(
        log.contains("sinks[1].path") && log.contains("also sinks[0]'s path"),
        "{log}"
    );
    // `once` refuses the same configuration before writing anything.
    let out = env.run(&["once"], &[]).await;
    assert_eq!(out.status.code(), Some(78));
    assert!(!env.dir.path().join("out").exists(), "no file opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_sinks_on_one_url_the_refused_one_still_gets_the_page_and_the_other_gets_it_once() {
    let recv = Hostile::default();
    {
        let mut s = recv.lock();
        s.refuse = Some(403);
        s.only = Some("tok-b".into());
        s.error_body = "index-b: forbidden".into();
    }
    let url = recv.start().await;
    let mut env = env(2_500).await;
    env.extra = format!(
        "{}{}",
        sink(&env, &url, "tok-a", "name = \"index-a\""),
        sink(&env, &url, "tok-b", "name = \"index-b\"")
    );
    for _ in 0..2 {
        let out = env.run(&["once"], &[]).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("sink index-b"), "{}", stderr(&out));
    }
    assert_eq!(
        recv.events(Some("tok-a")).len(),
        1_000,
        "the first page, once, although it was retried"
    );
    assert!(recv.events(Some("tok-b")).is_empty());
    assert_eq!(saved_cursor(&env), None);
    recv.lock().refuse = None;
    assert_success(&env.run(&["once"], &[]).await);
    assert_exactly_once(&recv.events(Some("tok-a")), 2_500);
    assert_exactly_once(&recv.events(Some("tok-b")), 2_500);
}

/// `/readyz`'s status once it is `want` (or the last one after 30 s).
async fn readyz(http: &reqwest::Client, base: &str, want: u16) -> u16 {
    let mut last = 0;
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            last = r.status().as_u16();
            if last == want {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_run_a_refusing_sink_fails_readiness_until_it_accepts() {
    let recv = Hostile::default();
    recv.lock().refuse = Some(403);
    let url = recv.start().await;
    let mut env = env(1_500).await;
    let port = free_port();
    let dead = env.path("dead.jsonl");
    let dl = format!("dead_letter_path = \"{}\"", dead.display());
    env.extra = format!(
        "{}{}",
        sink(&env, &url, TOKEN, &dl),
        env.api_table(port, false)
    );
    let mut child = env.spawn(&["run"]);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_for_api(&http, &base).await;
    assert_eq!(
        readyz(&http, &base, 503).await,
        503,
        "not ready while refused"
    );
    let posts = recv.lock().posts;
    assert!(
        eventually(20, || recv.lock().posts > posts).await,
        "the next cycle tries again"
    );
    assert!(!dead.exists(), "nothing dead-lettered");
    assert!(recv.lock().accepted.is_empty());
    recv.lock().refuse = None;
    assert_eq!(readyz(&http, &base, 200).await, 200, "ready once accepted");
    assert!(eventually(20, || recv.events(None).len() >= 1_500).await);
    let (status, _) = terminate(&mut child).await;
    assert!(status.success());
    assert_exactly_once(&recv.events(None), 1_500);
    assert!(!dead.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_refuses_every_record_as_too_large_empties_nothing_into_the_dead_letter_file(
) {
    let recv = Hostile::default();
    recv.lock().limit = Some(100);
    let url = recv.start().await;
    let mut env = env(300).await;
    let dead = env.path("dead.jsonl");
    let dl = format!("name = \"tiny\"\ndead_letter_path = \"{}\"", dead.display());
    env.extra = sink(&env, &url, TOKEN, &dl);
    let out = env.run(&["once"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let log = stderr(&out);
    assert!(
        log.contains("sink tiny") && log.contains("misconfigured"),
        "{log}"
    );
    assert!(!dead.exists(), "nothing dead-lettered");
    assert_eq!(saved_cursor(&env), None);
    recv.lock().limit = None;
    assert_success(&env.run(&["once"], &[]).await);
    assert_exactly_once(&recv.events(None), 300);
}
