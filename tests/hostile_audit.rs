//! Audit users against a hostile or odd Docusign: an Admin API that never says a query is done,
//! a Users:list that never ends, a `Date` an hour behind the host's clock, users without an id;
//! and the checkpoint that stays the size of a page however many users a query emits.

mod common;

use common::*;
use docusign_collector::record::EventType;
use docusign_collector::sources::admin_users::AuditPosition;
use docusign_collector::sources::Checkpoint;
use docusign_collector::state::State;
use serde_json::Value;
use std::collections::HashSet;

fn state_json(out: &std::process::Output) -> Value {
    assert_success(out);
    serde_json::from_slice(&out.stdout).expect("state --json")
}

/// The stored audit-user position, as the state API gives it.
fn stored_position(env: &Env) -> String {
    State::open(&env.state_path())
        .expect("state opens")
        .cursor("acme", EventType::AuditUsers)
        .expect("cursor query")
        .expect("a saved position")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_api_that_keeps_naming_a_next_page_does_not_keep_the_query_going() {
    let env = audit_env(users(300), "page_size = 100").await;
    // Every page names a next one and gives no size, also past the end (empty pages).
    env.sim.set_admin_endless(true);
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 300);
    assert_eq!(duplicates(&user_ids(&events)), 0);
    assert_eq!(
        env.sim.stats().requests_of("admin_users"),
        4,
        "three pages of users and the empty page that ends the query"
    );
    // The query ended, so the next cycle runs: it emits the users that changed.
    let changed: HashSet<String> = env.sim.modify_users(5).into_iter().collect();
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    let new: HashSet<String> = user_ids(&events[300..]).into_iter().collect();
    assert_eq!(new, changed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_list_that_never_ends_costs_a_bounded_number_of_calls() {
    let env = audit_env(users(300), "page_size = 100\nbulk_threshold = 50").await;
    // Each list page announces one page more than it served (200, 300, 400, …) and serves the
    // users again from the first once it has served them all.
    env.sim.set_esign_list_endless(true);
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 300);
    assert_eq!(duplicates(&user_ids(&events)), 0);
    let stats = env.sim.stats();
    // The first page announced 200 users: at most ⌈200 ÷ 100⌉ + 1 calls.
    assert!(stats.esign_list >= 1, "the list was read");
    assert!(stats.esign_list <= 3, "{} list calls", stats.esign_list);
    assert!(
        events
            .iter()
            .all(|e| e["esignature"]["userSettings"]["modifiedDate"].is_string()),
        "every user enriched (from the list, or singly)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_query_follows_docusigns_clock_when_the_host_is_an_hour_ahead() {
    let env = audit_env(users(50), "page_size = 50").await;
    env.sim.set_date_skew(-3600);
    let out = env.run(&["once"], &[]).await;
    assert_success(&out);
    assert_eq!(env.events().len(), 50);
    let log = stderr(&out);
    assert!(log.contains("differ by more than a minute"), "{log}");

    // The query started by Docusign's clock, an hour before the host's.
    let v = state_json(&env.run(&["state", "--json"], &[]).await);
    let started = v[0]["streams"][0]["position"]["last_query_started"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    let started_at = chrono::DateTime::parse_from_rfc3339(&started)
        .unwrap()
        .timestamp();
    let host = chrono::Utc::now().timestamp();
    assert!(
        (host - 3600 - started_at).abs() < 120,
        "started {started}, an hour before the host's {host}"
    );

    // The next query asks from there, less the overlap (10 minutes).
    assert_success(&env.run(&["once"], &[]).await);
    let since = env.sim.stats().admin_since.last().cloned().unwrap();
    let since_at = chrono::DateTime::parse_from_rfc3339(&since)
        .unwrap()
        .timestamp();
    assert_eq!(since_at, started_at - 600, "{since} vs {started}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_without_an_id_are_emitted_once_and_warned_about() {
    let env = audit_env(users(40), "page_size = 50").await;
    env.sim.set_admin_without_id(3);
    let out = env.run(&["once"], &[]).await;
    assert_success(&out);
    let events = env.events();
    assert_eq!(events.len(), 40);
    let without: Vec<&Value> = events.iter().filter(|e| e.get("id").is_none()).collect();
    assert_eq!(without.len(), 3, "emitted as Docusign sent them");
    assert!(stderr(&out).contains("without an id"), "{}", stderr(&out));

    // The next query's overlap returns them (and two users that changed): only the two changed
    // ones are emitted again.
    let modified = env.sim.modify_users(5);
    assert_eq!(modified.len(), 5);
    let out = env.run(&["once"], &[]).await;
    assert_success(&out);
    let events = env.events();
    assert_eq!(events.len(), 42, "{:?}", &events[40..]);
    assert!(events[40..].iter().all(|e| e["id"].is_string()));
    assert!(!stderr(&out).contains("without an id"), "warned once");
    // And an idle query emits nothing.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_stays_the_size_of_a_page() {
    let env = audit_env(users(2_000), "page_size = 250").await;
    // Killed after the fifth page reached the sink: the position is the query under way.
    env.once_aborting_at("after_sink_write:5").await;
    let under_way = stored_position(&env);
    assert!(under_way.len() < 1_000, "{} bytes", under_way.len());
    let p = AuditPosition::decode(&under_way).expect("readable");
    assert_eq!(p.query.as_ref().map(|q| q.emitted), Some(1_000));

    assert_success(&env.run(&["once"], &[]).await);
    let ids = user_ids(&env.events());
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        2_000,
        "nothing lost"
    );
    assert_eq!(duplicates(&ids), 250, "only the page in flight came again");
    let done = stored_position(&env);
    assert!(done.len() < 200, "{done}");
    let v = state_json(&env.run(&["state", "--json"], &[]).await);
    let position = &v[0]["streams"][0]["position"];
    assert_eq!(position["remembered_users"], 2_000, "{position}");
    assert!(position["query_under_way"].is_null(), "{position}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_an_earlier_version_wrote_is_moved_into_the_state() {
    let env = audit_env(users(60), "page_size = 50").await;
    assert_success(&env.run(&["once"], &[]).await);
    let ids = user_ids(&env.events());
    let state = State::open(&env.state_path()).unwrap();
    let remembered = state.seen_users("acme", &ids).unwrap();
    assert_eq!(remembered.len(), 60);
    drop(state);

    // A new state holding what an earlier version wrote: every user in the position.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", env.state_path().display()));
    }
    // Started 0: the next query reads every user again, so the old position must recognise them.
    let legacy = serde_json::json!({"started": 0, "seen": remembered}).to_string();
    assert!(legacy.len() > 60 * 40, "{legacy}");
    State::open(&env.state_path())
        .unwrap()
        .save_cursor("acme", EventType::AuditUsers, &legacy)
        .unwrap();

    // Two users change: only they are emitted (the others are recognised from the old
    // position), and the users now live in the state, not in the position.
    let changed: HashSet<String> = env.sim.modify_users(2).into_iter().collect();
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 62);
    let new: HashSet<String> = user_ids(&events[60..]).into_iter().collect();
    assert_eq!(new, changed);
    let now = stored_position(&env);
    assert!(now.len() < 200, "{now}");
    let state = State::open(&env.state_path()).unwrap();
    assert_eq!(state.seen_users("acme", &ids).unwrap().len(), 60);
}
