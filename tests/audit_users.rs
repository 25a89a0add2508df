//! Audit users end to end: Admin users, eSignature enrichment, boundary handling; and the v1
//! Monitor endpoint.

mod common;

use common::*;
use docusign_sim::{Faults, SimConfig};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

fn users_env_config(n: usize, unknown: usize) -> SimConfig {
    SimConfig {
        esign_unknown_users: unknown,
        ..users(n)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_once_then_only_the_changed_ones() {
    let env = audit_env(users_env_config(2_600, 0), "page_size = 250").await;
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 2_600);
    assert_eq!(duplicates(&user_ids(&events)), 0);
    assert_eq!(
        env.sim.stats().requests_of("admin_users"),
        11,
        "2,600 users in 11 pages of 250"
    );
    for e in &events {
        assert_eq!(e["source_log_type"], "auditusers");
        assert_eq!(e["_integration"], "acme");
        assert!(
            e["esignature"]["userSettings"]["modifiedDate"].is_string(),
            "{e}"
        );
        let t = e["_time"].as_str().unwrap();
        assert!(t.len() == 20 && t.ends_with('Z'));
    }

    // 30 users change: the next cycle (a new process) emits those 30 and no others.
    let changed: HashSet<String> = env.sim.modify_users(30).into_iter().collect();
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    let new: HashSet<String> = user_ids(&events[2_600..]).into_iter().collect();
    assert_eq!(events.len(), 2_630, "exactly the changed users");
    assert_eq!(new, changed);

    // An idle cycle emits nothing.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 2_630);

    // The stream's position is shown: when the last query started, how many users it keeps.
    let out = env.run(&["state", "--json"], &[]).await;
    assert_success(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("state --json");
    let stream = &v[0]["streams"][0];
    assert_eq!(stream["event_type"], "audit_users", "{v}");
    let started = stream["position"]["last_query_started"].as_str().unwrap();
    assert!(started.len() == 20 && started.ends_with('Z'), "{stream}");
    assert!(stream["position"]["remembered_users"].is_u64(), "{stream}");
    assert!(
        stream.get("cursor").is_none(),
        "the raw position is not dumped"
    );
    let text = env.run(&["state"], &[]).await;
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("last query started"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_query_resumes_the_query_at_the_page_in_flight() {
    let env = audit_env(users_env_config(1_000, 0), "page_size = 250").await;
    // Killed once the third of four pages reached the sink, before its checkpoint was saved.
    env.once_aborting_at("after_sink_write:3").await;
    assert_eq!(env.events().len(), 750, "three pages reached the sink");

    // The saved position is the query under way, after its second page.
    let out = env.run(&["state", "--json"], &[]).await;
    assert_success(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("state --json");
    let under_way = &v[0]["streams"][0]["position"]["query_under_way"];
    assert_eq!(under_way["delivered_users"], 500, "{v}");

    // The restart asks for the third and fourth pages only, and ends the query.
    let admin_before = env.sim.stats().requests_of("admin_users");
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.sim.stats().requests_of("admin_users") - admin_before, 2);
    let ids = user_ids(&env.events());
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        1_000,
        "nothing lost"
    );
    assert_eq!(duplicates(&ids), 250, "only the page in flight came again");
    let out = env.run(&["state", "--json"], &[]).await;
    let v: Value = serde_json::from_slice(&out.stdout).expect("state --json");
    let position = &v[0]["streams"][0]["position"];
    assert!(position["query_under_way"].is_null(), "{position}");
    assert_eq!(position["remembered_users"], 1_000, "{position}");

    // The next query starts from the interrupted query's start: nothing new, nothing again.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 1_250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_unknown_to_esignature_is_still_emitted() {
    // 404: an unknown user behind a gateway (the spec's 400 is tested in tests/fidelity.rs).
    let cfg = SimConfig {
        esign_unknown_status: 404,
        ..users_env_config(60, 5)
    };
    let env = audit_env(cfg, "page_size = 50").await;
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 60);
    let unknown: HashSet<String> = env.sim.esign_unknown_user_ids().into_iter().collect();
    assert_eq!(unknown.len(), 5);
    for e in &events {
        let id = e["id"].as_str().unwrap();
        assert_eq!(e.get("esignature").is_none(), unknown.contains(id), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_never_exceeds_its_concurrency() {
    let env = audit_env(
        users_env_config(120, 0),
        "page_size = 100\nenrich_concurrency = 3\nbulk_threshold = 1000",
    )
    .await;
    env.sim.set_faults(Faults {
        delay: Duration::from_millis(20),
        ..Faults::default()
    });
    assert_success(&env.run(&["once"], &[]).await);
    let stats = env.sim.stats();
    assert_eq!(env.events().len(), 120);
    assert_eq!(stats.esign_requests, 120, "one eSignature call per user");
    assert!(
        stats.esign_max_in_flight <= 3,
        "{} in flight",
        stats.esign_max_in_flight
    );
    assert!(stats.esign_max_in_flight >= 2, "requests did overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrich_false_makes_no_esignature_call() {
    let env = audit_env(users_env_config(300, 0), "page_size = 250\nenrich = false").await;
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 300);
    assert_eq!(env.sim.stats().esign_requests, 0);
    assert!(env.events().iter().all(|e| e.get("esignature").is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v1_monitor_endpoint_collects_the_same_events_as_lens() {
    let mut env = Env::start(sim_config(3_000)).await;
    assert_success(&env.run(&["once"], &[]).await);
    let lens: HashSet<String> = event_ids(&env.events()).into_iter().collect();
    std::fs::remove_file(env.events_path()).unwrap();
    std::fs::remove_file(env.state_path()).unwrap();
    env.customer_events.push_str("api = \"v1\"\n");
    assert_success(&env.run(&["once"], &[]).await);
    let v1_events = env.events();
    let v1: HashSet<String> = event_ids(&v1_events).into_iter().collect();
    assert_eq!(v1_events.len(), 3_000);
    assert_eq!(lens, v1);
    assert!(env.sim.stats().requests_of("monitor_v1") >= 2);
}
