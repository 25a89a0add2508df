//! `takeover`: how long after a SIGKILL every integration of the killed replica has a live
//! holder among the others.
//!
//! Three replicas, 30 integrations on one simulator account (events appended every second),
//! customer events every 20 s and a 10 s lease: the defaults (60 s, 30 s) scaled down by three.
//! Each kill: wait until the leases are balanced (ten each), wait a random part of a lease round,
//! SIGKILL one replica (each in turn), then read the `leases` table every 50 ms
//! (`State::postgres().leases(None)`) until each of its integrations has a live holder among the
//! others. The bound is lease + lease ÷ 3: the dead replica's leases expire at most one lease
//! after the kill, and each survivor's next round comes at most one round (lease ÷ 3) later
//! (both survivors claim: each takes up to its new share, fifteen).
//! Then the killed replica is started again and the time until it has its share is measured
//! too (a joining replica gets work within about one lease period). Every replica starts at a
//! random moment within a round, so the phases of the rounds differ from kill to kill.
//! `BENCH_TAKEOVER_KILLS` (default 10) sets the number of kills.

use crate::common::*;
use crate::pg_support::*;
use docusign_sim::{SimConfig, SimHandle};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const REPLICAS: [&str; 3] = ["r1", "r2", "r3"];
const INTEGRATIONS: usize = 30;
const LEASE: Duration = Duration::from_secs(10);
const INTERVAL: &str = "20s";

pub async fn takeover() {
    let Some(server) = server_or_skip("takeover") else {
        return;
    };
    let kills: usize = std::env::var("BENCH_TAKEOVER_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let keys = key_pair();
    let cfg = SimConfig {
        clients: vec![client(&ALL_SCOPES)],
        ..sim_config(0)
    };
    let sim = std::sync::Arc::new(
        SimHandle::start(cfg.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .expect("simulator starts"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&key_file, &keys.0).expect("write key");
    let db = server.fresh_database("bench_takeover");
    let observer = observer(&db);
    let integrations: String = (0..INTEGRATIONS)
        .map(|i| {
            integration_toml(
                &format!("acct-{i:02}"),
                INTEGRATION_KEY,
                &key_file,
                &sim,
                &cfg,
                INTERVAL,
            )
        })
        .collect();
    let lease = format!("{}s", LEASE.as_secs());
    let configs: BTreeMap<&str, std::path::PathBuf> = REPLICAS
        .iter()
        .map(|r| {
            (
                *r,
                replica_config(dir.path(), r, &db, &lease, &integrations),
            )
        })
        .collect();
    let log = |r: &str| dir.path().join(format!("{r}.log"));
    let round = LEASE / 3;
    // Each replica's rounds run at its own phase (started at a random moment within a round),
    // as replicas started independently do: how long a takeover waits after the expiry depends
    // on the survivors' phases relative to the dead replica's.
    let mut children: BTreeMap<&str, tokio::process::Child> = BTreeMap::new();
    for r in REPLICAS {
        tokio::time::sleep(round.mul_f64(rand::random::<f64>())).await;
        children.insert(r, spawn_replica(&configs[r], &log(r)));
    }
    let feed = {
        let sim = sim.clone();
        tokio::spawn(async move {
            loop {
                sim.append_events(5);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let bound = LEASE + round;

    println!(
        "\n## takeover: 3 replicas, {INTEGRATIONS} integrations, lease {}s (rounds every {:.2} s), \
         customer events every {INTERVAL}; bound lease + lease/3 = {:.2} s",
        LEASE.as_secs(),
        round.as_secs_f64(),
        bound.as_secs_f64()
    );
    let first = wait_balanced(&observer, &REPLICAS, Duration::from_secs(180)).await;
    println!(
        "balanced after the start: {}",
        first.map_or("not within 180 s".into(), |d| format!(
            "{:.2} s",
            d.as_secs_f64()
        ))
    );
    println!(
        "{:>5} {:>7} {:>13} {:>17} {:>17} {:>16} {:>8} {:>16}",
        "kill",
        "victim",
        "integrations",
        "leases expire s",
        "all taken over s",
        "after expiry s",
        "≤ bound",
        "rejoined, fair s"
    );
    let mut takeovers = Vec::new();
    for k in 0..kills {
        if first.is_none() {
            break;
        }
        let victim = REPLICAS[k % REPLICAS.len()];
        // A random moment within the replicas' rounds.
        tokio::time::sleep(Duration::from_secs(2) + round.mul_f64(rand::random::<f64>())).await;
        let (holders, _) = live_holders(&observer);
        let of_victim: Vec<String> = holders
            .iter()
            .filter(|(_, h)| h.as_str() == victim)
            .map(|(i, _)| i.clone())
            .collect();
        let mut child = children.remove(victim).expect("running");
        let killed = Instant::now();
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
        // When its leases run out, by the database's clock (they were renewed in one statement).
        let asked = killed.elapsed().as_secs_f64();
        let left: f64 = psql(
            &server,
            &db,
            &format!(
                "SELECT coalesce(extract(epoch FROM max(expires_at) - now()), 0) FROM leases WHERE holder = '{victim}'"
            ),
        )
        .trim()
        .parse()
        .unwrap_or(f64::NAN);
        let expiry = (asked + killed.elapsed().as_secs_f64()) / 2.0 + left;
        let mut took = None;
        while killed.elapsed() < Duration::from_secs(120) {
            let (now, _) = live_holders(&observer);
            let done = of_victim
                .iter()
                .all(|i| now.get(i).is_some_and(|h| h.as_str() != victim));
            if done {
                took = Some(killed.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(took) = took else {
            println!(
                "{:>5} {:>7} {:>13} takeover not complete within 120 s: {:?}",
                k + 1,
                victim,
                of_victim.len(),
                held_by(&live_holders(&observer).0)
            );
            break;
        };
        takeovers.push(took.as_secs_f64());
        // Start it again (at a random phase) and wait for the fair shares.
        tokio::time::sleep(round.mul_f64(rand::random::<f64>())).await;
        children.insert(victim, spawn_replica(&configs[victim], &log(victim)));
        let rejoined = wait_balanced(&observer, &REPLICAS, Duration::from_secs(120)).await;
        println!(
            "{:>5} {:>7} {:>13} {:>17.2} {:>17.2} {:>16.2} {:>8} {:>16}",
            k + 1,
            victim,
            of_victim.len(),
            expiry,
            took.as_secs_f64(),
            took.as_secs_f64() - expiry,
            if took <= bound { "yes" } else { "NO" },
            rejoined.map_or("not within 120 s".into(), |d| format!(
                "{:.2}",
                d.as_secs_f64()
            ))
        );
        if rejoined.is_none() {
            break;
        }
    }
    if !takeovers.is_empty() {
        let mut sorted = takeovers.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        println!(
            "takeover after SIGKILL over {} kills: min {:.2} s, median {:.2} s, max {:.2} s (bound {:.2} s)",
            sorted.len(),
            sorted[0],
            percentile(&sorted, 50.0),
            sorted[sorted.len() - 1],
            bound.as_secs_f64()
        );
    }
    feed.abort();
    for (_, mut child) in children {
        stop_replica(&mut child, Duration::from_secs(60)).await;
    }
    log_summary(&REPLICAS.map(|r| (r, log(r))));
    drop(observer);
    drop_database(&server, &db);
}

/// Wait (up to `limit`) until every integration is held and each of `replicas` holds its share;
/// how long it took.
async fn wait_balanced(
    observer: &docusign_collector::state::State,
    replicas: &[&str],
    limit: Duration,
) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if balanced(&live_holders(observer).0, INTEGRATIONS, replicas) {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
