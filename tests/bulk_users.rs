//! Bulk enrichment end to end: a large audit-user query reads the account's eSignature users
//! through Users:list and joins them by id; small queries, and users the list lacks or lists
//! without `modifiedDate`, still get the single-user call.

mod common;

use common::*;
use docusign_sim::{Api, SimConfig};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Instant;

fn enriched(e: &Value) -> bool {
    e["esignature"]["userSettings"]["modifiedDate"].is_string()
}

/// The file sink's lines, sorted (records compared byte for byte).
fn sorted_lines(env: &Env) -> Vec<String> {
    let text = std::fs::read_to_string(env.events_path()).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5000_user_first_load_at_the_default_budget_takes_one_call_per_40_users() {
    let mut env = audit_env(users(5_000), "page_size = 250").await;
    env.rate_limit = String::new(); // the default share: 1,000 calls per hour, bursts of 50
    let t0 = Instant::now();
    assert_success(&env.run(&["once"], &[]).await);
    let secs = t0.elapsed().as_secs();
    let events = env.events();
    assert_eq!(events.len(), 5_000);
    assert_eq!(duplicates(&user_ids(&events)), 0, "every user once");
    assert!(events.iter().all(enriched), "every user enriched");
    let stats = env.sim.stats();
    let (admin, list, single) = (
        stats.requests_of("admin_users"),
        stats.esign_list,
        stats.esign_requests,
    );
    assert_eq!(
        (admin, list, single),
        (20, 50, 0),
        "20 Admin pages, 50 list pages"
    );
    assert!(admin + list + single <= 5_000 / 40);
    assert!(secs < 180, "minutes, not hours: {secs} s");

    // 30 users change: a small query, enriched one call per user, no list.
    let changed: HashSet<String> = env.sim.modify_users(30).into_iter().collect();
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 5_030);
    let new: HashSet<String> = user_ids(&events[5_000..]).into_iter().collect();
    assert_eq!(new, changed);
    assert!(events[5_000..].iter().all(enriched));
    let after = env.sim.stats();
    assert_eq!(after.esign_list, 50, "no Users:list call for 30 users");
    assert!(after.esign_requests >= 30, "{}", after.esign_requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_missing_from_the_list_or_undated_there_are_looked_up_singly() {
    let cfg = SimConfig {
        esign_list_omitted: 7,
        esign_list_undated: 5,
        esign_unknown_users: 3,
        ..users(300)
    };
    let env = audit_env(cfg, "page_size = 100").await;
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 300);
    assert_eq!(duplicates(&user_ids(&events)), 0);
    let omitted: HashSet<String> = env.sim.esign_list_omitted_ids().into_iter().collect();
    let undated: HashSet<String> = env.sim.esign_list_undated_ids().into_iter().collect();
    let unknown: HashSet<String> = env.sim.esign_unknown_user_ids().into_iter().collect();
    assert_eq!((omitted.len(), undated.len(), unknown.len()), (7, 5, 3));
    let stats = env.sim.stats();
    assert_eq!(stats.esign_list, 3, "300 users in 3 list pages");
    assert_eq!(
        stats.esign_requests, 15,
        "single calls for the omitted, undated and unknown users only"
    );
    for e in &events {
        let id = e["id"].as_str().unwrap_or_default();
        assert_eq!(enriched(e), !unknown.contains(id), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_and_the_single_call_give_the_same_records_and_digests() {
    // An overlap of six days brings every user (modified over the past five) back next query.
    let mut env = audit_env(users(200), "page_size = 100\noverlap = \"6d\"").await;
    assert_success(&env.run(&["once"], &[]).await);
    let stats = env.sim.stats();
    assert_eq!(
        (stats.esign_list, stats.esign_requests),
        (2, 0),
        "from the list"
    );
    let listed = sorted_lines(&env);
    assert_eq!(listed.len(), 200);

    // The same users again, each by the single call: the digests match, nothing is re-emitted.
    env.audit_users
        .push_str(&format!("\nbulk_threshold = {}\n", u32::MAX));
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(
        env.sim.stats().esign_requests,
        200,
        "single calls this time"
    );
    assert_eq!(
        env.events().len(),
        200,
        "unchanged users are not emitted again"
    );

    // From scratch with single calls: the very same records.
    std::fs::remove_file(env.events_path()).expect("remove events");
    std::fs::remove_file(env.state_path()).expect("remove state");
    assert_success(&env.run(&["once"], &[]).await);
    let single = sorted_lines(&env);
    assert_eq!(single.len(), 200);
    let differing = listed.iter().zip(&single).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing, 0,
        "records from the list equal those from the single call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_list_that_fails_leaves_every_user_to_the_single_call() {
    let mut env = audit_env(users(120), "page_size = 60").await;
    env.integration_extra
        .push_str("\n[integrations.retry]\nmax_attempts = 2\ninitial = \"10ms\"\nmax = \"20ms\"\n");
    // The list's first page fails both its attempts (503): not retried further, not fatal.
    env.sim.fail_next_on(Api::Esign, 2, 503);
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    assert_eq!(events.len(), 120);
    assert!(events.iter().all(enriched), "every user enriched singly");
    let stats = env.sim.stats();
    assert_eq!((stats.esign_list, stats.esign_requests), (2, 120));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_stops_after_one_page_when_the_account_dwarfs_the_query() {
    // A first load without enrichment, then 60 changed users in an account of 10,000: listing
    // would take 100 calls, more than the query's users, so it stops after its first page.
    let mut env = audit_env(users(10_000), "page_size = 250\nenrich = false").await;
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 10_000);
    env.sim.modify_users(60);
    env.audit_users = env.audit_users.replace("enrich = false", "enrich = true");
    assert_success(&env.run(&["once"], &[]).await);
    let events = env.events();
    let query = events.len() - 10_000;
    assert!(query >= 60, "{query} users in the second query");
    assert!(events[10_000..].iter().all(enriched));
    let stats = env.sim.stats();
    assert_eq!(stats.esign_list, 1, "one list page, then single calls");
    assert!(
        stats.esign_requests <= query as u64,
        "{}",
        stats.esign_requests
    );
}
