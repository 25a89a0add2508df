//! Answers Docusign's specifications allow and the simulator now gives (issue: real Docusign):
//! unknown users answer 400, dates in other zones or forms, `paging.next` elsewhere or
//! relative, malformed answers, and the audit-user page a retry finds reshuffled.

mod common;

use common::receiver::Receiver;
use common::*;
use docusign_sim::{AdminNext, Api, EsignDateFormat, SimConfig};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Retries that would take seconds: a cycle that ends quickly made none.
fn slow_retries(env: &mut Env) {
    env.integration_extra
        .push_str("\n[integrations.retry]\nmax_attempts = 5\ninitial = \"2s\"\nmax = \"2s\"\n");
}

/// Run `once`, which must fail without retrying; its output.
async fn fails_fast(env: &Env) -> std::process::Output {
    let t0 = Instant::now();
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "no retries: {:?}",
        t0.elapsed()
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_of_300_users_unknown_to_esignature_answer_400_and_every_user_is_emitted() {
    let env = audit_env(
        SimConfig {
            esign_unknown_users: 3,
            ..users(300)
        },
        "page_size = 100",
    )
    .await;
    let out = env.run(&["once"], &[]).await;
    assert_success(&out);
    let events = env.events();
    assert_eq!(events.len(), 300);
    assert_eq!(duplicates(&user_ids(&events)), 0);
    let unknown: HashSet<String> = env.sim.esign_unknown_user_ids().into_iter().collect();
    assert_eq!(unknown.len(), 3);
    let bare: HashSet<String> = events
        .iter()
        .filter(|e| e.get("esignature").is_none())
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bare, unknown, "exactly the unknown users lack esignature");
    let log = stderr(&out);
    for id in &unknown {
        assert!(log.contains(id.as_str()), "a warning names {id}: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_lookups_do_not_stop_the_cycle_and_the_next_cycle_enriches() {
    // Single calls (the Users:list path's failures: tests/bulk_users.rs).
    let mut env = audit_env(users(120), "page_size = 60\nbulk_threshold = 1000").await;
    env.integration_extra
        .push_str("\n[integrations.retry]\nmax_attempts = 2\ninitial = \"10ms\"\nmax = \"20ms\"\n");
    // The first 10 eSignature calls fail (503), each user's lookup outlives its two attempts.
    env.sim.fail_next_on(Api::Esign, 10, 503);
    assert_success(&env.run(&["once"], &[]).await);
    let first = env.events();
    assert_eq!(first.len(), 120, "every user emitted");
    let bare = first
        .iter()
        .filter(|e| e.get("esignature").is_none())
        .count();
    assert!((1..=10).contains(&bare), "{bare} users without esignature");

    let changed: HashSet<String> = env.sim.modify_users(5).into_iter().collect();
    assert_success(&env.run(&["once"], &[]).await);
    let all = env.events();
    let next = &all[120..];
    let next_ids: HashSet<String> = user_ids(next).into_iter().collect();
    assert!(
        changed.is_subset(&next_ids),
        "the changed users are emitted"
    );
    assert!(
        next.iter().all(|e| e["esignature"]["userId"].is_string()),
        "the next cycle enriches again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_uri_that_is_not_a_url_fails_fast_and_is_looked_up_again() {
    let mut env = audit_env(users(50), "page_size = 50").await;
    slow_retries(&mut env);
    env.sim.set_base_uri(Some("not a url"));
    let out = fails_fast(&env).await;
    let log = stderr(&out);
    assert!(log.contains("acme") && log.contains("esignature"), "{log}");
    assert_eq!(env.sim.stats().esign_requests, 0);

    // The daemon: the first cycle fails the same way; once userinfo is right, a later cycle
    // looks the base URI up again and collects everyone.
    let mut daemon = env.spawn(&["run"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(env.events().is_empty());
    env.sim.set_base_uri(None);
    let path = env.events_path();
    assert!(
        eventually(30, || complete_lines(&path) >= 50).await,
        "collected after the base URI was looked up again"
    );
    terminate(&mut daemon).await;
    assert!(env.events().iter().all(|e| e["esignature"].is_object()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_fails_the_cycle_once_without_retries() {
    let mut env = Env::start(sim_config(100)).await;
    slow_retries(&mut env);
    env.sim
        .garble_next(Api::Monitor, 1, "<html>Service Unavailable</html>");
    let out = fails_fast(&env).await;
    assert_eq!(env.sim.stats().requests_of("monitor"), 1, "asked once");
    let log = stderr(&out);
    assert!(
        log.contains("acme") && log.contains("monitor") && log.contains("malformed"),
        "{log}"
    );
    // The next cycle starts clean.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 100);
}

/// A listener that counts requests carrying an `Authorization` header.
async fn trap() -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let s = s.clone();
        async move {
            if headers.contains_key("authorization") {
                s.fetch_add(1, Ordering::SeqCst);
            }
            (axum::http::StatusCode::OK, "{\"users\":[],\"paging\":{}}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/management"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_next_elsewhere_or_relative_still_reads_every_user_and_never_leaks_the_token() {
    let (elsewhere, authorized) = trap().await;
    for next in [
        AdminNext::Origin(elsewhere.clone()),
        AdminNext::Relative,
        AdminNext::Absent,
    ] {
        let env = audit_env(users(230), "page_size = 50\nenrich = false").await;
        env.sim.set_admin_next(next.clone());
        assert_success(&env.run(&["once"], &[]).await);
        let events = env.events();
        assert_eq!(events.len(), 230, "{next:?}");
        assert_eq!(duplicates(&user_ids(&events)), 0, "{next:?}");
    }
    assert_eq!(
        authorized.load(Ordering::SeqCst),
        0,
        "the token never went to another origin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esignature_dates_hours_off_utc_or_in_iso_form_do_not_move_the_position() {
    for (offset, format) in [
        (-8 * 3600, EsignDateFormat::Us),
        (8 * 3600, EsignDateFormat::Us),
        (-8 * 3600, EsignDateFormat::Iso8601),
    ] {
        let env = audit_env(
            SimConfig {
                esign_clock_offset: offset,
                esign_date_format: format,
                ..users(200)
            },
            "page_size = 100",
        )
        .await;
        assert_success(&env.run(&["once"], &[]).await);
        assert_eq!(env.events().len(), 200);
        let changed: HashSet<String> = env.sim.modify_users(5).into_iter().collect();
        assert_success(&env.run(&["once"], &[]).await);
        let events = env.events();
        let next: HashSet<String> = user_ids(&events[200..]).into_iter().collect();
        assert_eq!(
            events.len(),
            205,
            "offset {offset}, {format:?}: exactly the 5 changed"
        );
        assert_eq!(next, changed);
        // `_time` comes from the date as Docusign wrote it.
        for e in &events[200..] {
            let t = e["_time"].as_str().unwrap();
            assert!(t.len() == 20 && t.ends_with('Z'), "{e}");
        }
        assert_success(&env.run(&["once"], &[]).await);
        assert_eq!(env.events().len(), 205, "an idle cycle emits nothing");
    }
}

fn http_sink(url: &str, name: &str) -> String {
    format!(
        "[[sinks]]\ntype = \"http\"\nname = \"{name}\"\nurl = \"{url}\"\nretry_max = \"100ms\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_reshuffled_before_the_retry_reaches_both_sinks_whole() {
    let healthy = Receiver::default();
    let rejecting = Receiver::default();
    rejecting.lock().always = Some(403);
    let (hu, ru) = (healthy.start().await, rejecting.start().await);
    let mut env = audit_env(users(600), "page_size = 100\nenrich = false").await;
    env.file_sink = false;
    env.extra = format!("{}\n{}", http_sink(&hu, "a"), http_sink(&ru, "b"));
    assert!(!env.run(&["once"], &[]).await.status.success());
    assert_eq!(
        healthy.events().len(),
        100,
        "the first page reached the healthy sink"
    );
    // The Admin API does not sort: the retry of the same URL holds other users.
    env.sim.reshuffle_admin();
    rejecting.lock().always = None;
    assert_success(&env.run(&["once"], &[]).await);
    let all: HashSet<String> = env.sim.user_ids().into_iter().collect();
    for (name, r) in [("healthy", &healthy), ("rejecting", &rejecting)] {
        let got: HashSet<String> = user_ids(&r.events()).into_iter().collect();
        assert_eq!(got, all, "{name} sink has every user");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_shaped_for_esignature_content() {
    let env = audit_env(
        SimConfig {
            esign_unknown_users: 1,
            ..users(20)
        },
        "record_shape = \"esignature\"",
    )
    .await;
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 20);
    for e in &events {
        assert!(e["userId"].is_string(), "{e}");
        assert!(e["admin"]["id"].is_string(), "{e}");
        assert_eq!(e["source_log_type"], "auditusers");
    }
    let enriched = events.iter().filter(|e| e["userName"].is_string()).count();
    assert_eq!(enriched, 19, "the unknown user has only userId and admin");
}
