//! Fair shares of an integration's budget: customer events keep their interval while an
//! audit-user first load wants every call.

mod common;

use common::*;
use docusign_sim::{Faults, SimConfig};
use std::time::{Duration, Instant};

/// Customer-event records in the file sink, counted on complete lines only (the collector writes
/// while the test reads).
fn customer_events(env: &Env) -> usize {
    let text = std::fs::read_to_string(env.events_path()).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|l| l.contains("\"eventId\""))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_events_keep_their_interval_during_a_large_audit_user_first_load() {
    let mut env = Env::start(SimConfig {
        users: 3000,
        ..sim_config(0)
    })
    .await;
    env.integration_extra = "event_types = [\"customer_events\", \"audit_users\"]".into();
    // Single eSignature calls (no Users:list): the load that competes with customer events.
    env.audit_users = format!(
        "start_from = \"3650d\"\nenrich_concurrency = 16\nbulk_threshold = {}\n",
        u32::MAX
    );
    // Two calls a second: the first load wants 3,000+ of them (25 minutes), the customer
    // events a couple per one-second cycle.
    env.rate_limit = "per_hour = 7200\nburst = 1\n".into();
    env.sim.set_faults(Faults {
        delay: Duration::from_millis(20),
        ..Faults::default()
    });
    let mut child = env.spawn(&["run"]);
    assert!(
        eventually(30, || env.sim.stats().esign_requests >= 10).await,
        "the audit-user load is under way"
    );
    for round in 1..=3 {
        env.sim.append_events(5);
        let t0 = Instant::now();
        // The 1 s interval plus a few calls' turns; without a share the Monitor stream would
        // queue behind 17 audit-user calls (8 s) per call.
        let delivered = eventually(6, || customer_events(&env) >= round * 5).await;
        assert!(
            delivered,
            "round {round}: {} of {} events after {:?}",
            customer_events(&env),
            round * 5,
            t0.elapsed()
        );
    }
    let esign = env.sim.stats().esign_requests;
    assert!(esign < 3000, "the first load was still going: {esign}");
    terminate(&mut child).await;
}
