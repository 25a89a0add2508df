//! Customer events end to end: the collector binary against the built-in simulator.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

fn assert_record_shape(e: &Value) {
    let t = e["_time"]
        .as_str()
        .unwrap_or_else(|| panic!("no _time in {e}"));
    assert_eq!(t.len(), 20, "{t}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z'),
        "{t}"
    );
    assert_eq!(e["source_log_type"], "customerevent");
    assert_eq!(e["_integration"], "acme");
    // _time is the event's timestamp, to the second.
    let ts = e["timestamp"].as_str().expect("timestamp");
    assert_eq!(&ts[..19], &t[..19], "{ts} vs {t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_drains_in_one_cycle_with_every_field_kept_and_nothing_twice() {
    let env = Env::start(sim_config(25_000)).await;
    let out = env.run(&["once"], &[]).await;
    assert_success(&out);
    let events = env.events();
    assert_eq!(events.len(), 25_000, "the whole backlog in one `once`");
    let ids = event_ids(&events);
    assert_eq!(duplicates(&ids), 0);
    events.iter().for_each(assert_record_shape);
    assert_eq!(env.sim.stats().token_grants, 1);

    // Every field as Docusign sent it: compare with the stream read by an independent client.
    let raw = fetch_all_raw(&env, "2000-01-01T00:00:00Z").await;
    // The test's own client took one grant too.
    let grants = env.sim.stats().token_grants;
    assert_eq!(grants, 2);
    assert_eq!(raw.len(), 25_000);
    let by_id: HashMap<&str, &Value> = raw
        .iter()
        .map(|e| (e["eventId"].as_str().unwrap(), e))
        .collect();
    for e in &events {
        let mut stripped = e.as_object().unwrap().clone();
        for k in ["_time", "source_log_type", "_integration"] {
            stripped.remove(k);
        }
        let original = by_id[e["eventId"].as_str().unwrap()];
        assert_eq!(&Value::Object(stripped), original);
    }

    // A second cycle delivers nothing.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 25_000);

    // Events appended later arrive in the next cycle, once.
    env.sim.append_events(1_234);
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 26_234);
    assert_eq!(duplicates(&event_ids(&events)), 0);

    // Three collector processes in a row shared one token grant (cached in the state database).
    assert_eq!(env.sim.stats().token_grants, grants);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_renewed() {
    let cfg = docusign_sim::SimConfig {
        token_lifetime: Duration::from_secs(4),
        ..sim_config(100)
    };
    let env = Env::start(cfg).await;
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.sim.stats().token_grants, 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    env.sim.append_events(10);
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(
        env.sim.stats().token_grants,
        2,
        "the expired token was replaced"
    );
    assert_eq!(env.events().len(), 110);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_consent_names_the_problem_and_the_url_and_saves_nothing() {
    let cfg = docusign_sim::SimConfig {
        clients: vec![client(&["signature"])],
        ..sim_config(100)
    };
    let env = Env::start(cfg).await;
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("consent"), "{err}");
    assert!(err.contains("/oauth/auth?response_type=code"), "{err}");
    assert!(
        err.contains(&format!("client_id={INTEGRATION_KEY}")),
        "{err}"
    );
    assert!(env.events().is_empty());
    let state = env.run(&["state", "--json"], &[]).await;
    assert_success(&state);
    let v: Value = serde_json::from_slice(&state.stdout).expect("state --json is JSON");
    for s in v[0]["streams"].as_array().cloned().unwrap_or_default() {
        assert!(s["cursor"].is_null(), "no cursor saved: {s}");
    }
    // consent-url prints the same URL.
    let url = env.run(&["consent-url"], &[]).await;
    assert_success(&url);
    let url = String::from_utf8_lossy(&url.stdout);
    assert!(
        url.trim().starts_with(&env.sim.base_url())
            && url.contains("scope=signature+impersonation"),
        "{url}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_sink_write_and_cursor_save_redelivers_that_page_only() {
    let mut env = Env::start(sim_config(10_000)).await;
    env.customer_events = "page_size = 1000\nstart_from = \"30d\"\n".into();
    env.once_aborting_at("after_sink_write:3").await;
    assert_eq!(
        env.events().len(),
        3_000,
        "three pages reached the sink before the crash"
    );
    assert_success(&env.run(&["once"], &[]).await);
    let ids = event_ids(&env.events());
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        10_000,
        "nothing lost"
    );
    assert_eq!(
        duplicates(&ids),
        1_000,
        "exactly the page whose cursor was not saved came again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_torn_by_a_kill_is_cut_on_restart() {
    let mut env = Env::start(sim_config(5_000)).await;
    env.customer_events = "page_size = 1000\nstart_from = \"30d\"\n".into();
    env.once_aborting_at("mid_file_write:2").await;
    let text = std::fs::read_to_string(env.events_path()).unwrap();
    assert!(!text.ends_with('\n'), "the kill left a torn last line");
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events(); // panics on any line that is not JSON
    let ids = event_ids(&events);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 5_000);
    assert!(duplicates(&ids) <= 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_collects_live_events_and_stops_on_sigterm() {
    let env = Env::start(sim_config(500)).await;
    let mut child = env.spawn(&["run"]);
    let path = env.events_path();
    assert!(
        eventually(60, || complete_lines(&path) >= 500).await,
        "backlog collected"
    );
    env.sim.append_events(25);
    assert!(
        eventually(60, || complete_lines(&path) >= 525).await,
        "appended events collected by a later cycle"
    );
    let (status, took) = terminate(&mut child).await;
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
    assert!(took < Duration::from_secs(20));
    assert_eq!(duplicates(&event_ids(&env.events())), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_events_prints_and_saves_nothing() {
    let env = Env::start(sim_config(300)).await;
    let out = env
        .run(
            &[
                "get-events",
                "--integration",
                "acme",
                "--event-type",
                "customer-events",
                "--limit",
                "120",
            ],
            &[],
        )
        .await;
    assert_success(&out);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 120);
    lines.iter().for_each(assert_record_shape);
    assert!(env.events().is_empty(), "no sink got anything");
    // Nothing saved: a `once` afterwards still collects the whole backlog.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_or_token_reaches_logs_state_or_test_output() {
    let env = Env::start(sim_config(200)).await;
    let once = env
        .run(&["once"], &[("DOCUSIGN_COLLECTOR__LOG__LEVEL", "trace")])
        .await;
    assert_success(&once);
    let token: String = cached_token(&env);
    assert!(token.len() >= 16);
    let key_lines: Vec<&str> = key_pair()
        .0
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut outputs = vec![once];
    outputs.push(env.run(&["state"], &[]).await);
    outputs.push(env.run(&["state", "--json"], &[]).await);
    outputs.push(
        env.run(&["test"], &[("DOCUSIGN_COLLECTOR__LOG__LEVEL", "trace")])
            .await,
    );
    for o in &outputs {
        for text in [
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        ] {
            assert!(
                !text.contains(&token),
                "the access token leaked:\n{text:.2000}"
            );
            for l in &key_lines {
                assert!(!text.contains(l), "private key material leaked");
            }
        }
    }
    // The state and test commands said something useful.
    let state = String::from_utf8_lossy(&outputs[1].stdout);
    assert!(
        state.contains("customer_events") && state.contains("token expires"),
        "{state}"
    );
    let test = String::from_utf8_lossy(&outputs[3].stdout);
    assert!(
        test.contains("token") && test.contains("OK") && test.contains("monitor"),
        "{test}"
    );
}

#[test]
fn demo_prints_jsonl_events_with_the_added_fields() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
        .args(["demo", "--duration", "4s"])
        .env_remove("DOCUSIGN_COLLECTOR_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout is JSONL only"))
        .collect();
    assert!(
        lines.len() >= 1000,
        "the demo backlog was printed ({} lines)",
        lines.len()
    );
    for e in &lines {
        assert_eq!(e["_integration"], "demo");
        assert!(e["_time"].is_string() && e["source_log_type"].is_string());
    }
    assert!(
        !String::from_utf8_lossy(&out.stderr).is_empty(),
        "logs go to stderr"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_integration_never_stalls_another() {
    let mut env = Env::start(sim_config(2_000)).await;
    env.extra = format!(
        r#"
[[integrations]]
name = "beta"
environment = "developer"
integration_key = "99999999-not-registered"
user_id = "{USER_ID}"
private_key_file = "{key}"

[integrations.endpoints]
oauth = "{base}"
monitor = "{base}"
"#,
        key = env.path("key.pem").display(),
        base = env.sim.base_url(),
    );
    let out = env.run(&["once"], &[]).await;
    assert!(
        !out.status.success(),
        "once reports the failing integration"
    );
    let err = stderr(&out);
    assert!(
        err.contains("beta") && err.contains("issuer_not_found"),
        "{err}"
    );
    let events = env.events();
    assert_eq!(
        events.len(),
        2_000,
        "the healthy integration collected everything"
    );
    assert!(events.iter().all(|e| e["_integration"] == "acme"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_collector_on_the_same_state_is_refused() {
    let env = Env::start(sim_config(100)).await;
    let mut daemon = env.spawn(&["run"]);
    let path = env.events_path();
    assert!(
        eventually(60, || complete_lines(&path) >= 100).await,
        "the daemon collects"
    );
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("another docusign-collector process") && err.contains("state"),
        "{err}"
    );
    sigterm(&daemon);
    let _ = daemon.wait().await;
    // Once the daemon is gone, the state is free again.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(duplicates(&event_ids(&env.events())), 0);
}
