//! `users-100k` (only when named): a 100,000-user audit-user first load, enriched through
//! Users:list (`page_size = 250`, `bulk_threshold` 50, simulator answers without delay), by
//! this build and — with `BENCH_BASELINE_BIN` — by an older binary, in one run: Admin and
//! eSignature calls, bytes written, the state database's size at the end, peak RSS, seconds.
//!
//! Bytes written are the child's `wchar` from `/proc/<pid>/io` (every byte it passed to
//! `write`/`pwrite`: the state database and its WAL, the Users:list scratch file, the sink's
//! file, requests and logs), read once it has exited and before it is reaped, so nothing is
//! missed; less the sink file's size, what is left is the state database, the scratch file
//! (the same in both binaries) and the requests.

use crate::common::*;
use docusign_sim::SimConfig;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;

/// One `once`'s figures.
struct Run {
    secs: f64,
    rss_mib: f64,
    wchar: u64,
}

/// `wchar` of `pid` (`/proc/<pid>/io`).
fn wchar(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let line = io.lines().find(|l| l.starts_with("wchar:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` has exited and waits to be reaped.
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

async fn once_measured(env: &Env, bin: &str) -> Run {
    let config = env.write_config();
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("once")
        .env("DOCUSIGN_COLLECTOR__LOG__LEVEL", "warn")
        .spawn()
        .expect("collector starts");
    let pid = child.id().expect("pid");
    let (mut peak_kib, mut written) = (0u64, 0u64);
    // Not reaped until it is a zombie: its counters stay readable to the end.
    loop {
        if let Some(kib) = super::vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(w) = wchar(pid) {
            written = written.max(w);
        }
        if zombie(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    assert!(
        child.wait().await.expect("wait").success(),
        "collector failed"
    );
    Run {
        secs,
        rss_mib: peak_kib as f64 / 1024.0,
        wchar: written,
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Bytes in the sink's file and its rotated predecessors (`.1`, `.2`, …).
fn sink_len(p: &std::path::Path) -> u64 {
    let mut total = file_len(p);
    for i in 1.. {
        let rotated = std::path::PathBuf::from(format!("{}.{i}", p.display()));
        if !rotated.exists() {
            break;
        }
        total += file_len(&rotated);
    }
    total
}

pub(crate) async fn users_100k() {
    println!(
        "\n## users-100k: a {USERS}-user first load, Users:list, page_size 250, no simulator delay"
    );
    println!(
        "{:<24} {:>6} {:>6} {:>6} {:>12} {:>12} {:>14} {:>10} {:>9} {:>9}",
        "binary",
        "admin",
        "list",
        "single",
        "written MiB",
        "sink MiB",
        "written-sink",
        "db+wal MiB",
        "RSS MiB",
        "seconds"
    );
    let mut bins = Vec::new();
    if let Ok(baseline) = std::env::var("BENCH_BASELINE_BIN") {
        bins.push(("before", baseline.clone(), true));
        bins.push(("before, enrich = false", baseline, false));
    }
    bins.push(("after", super::binary(None), true));
    // Without enrichment there is no Users:list scratch file: what is written is the state
    // database (and the sink's file).
    bins.push(("after, enrich = false", super::binary(None), false));
    for (name, bin, enrich) in bins {
        let mut env = Env::start(SimConfig {
            users: USERS,
            ..sim_config(0)
        })
        .await;
        env.integration_extra = "event_types = [\"audit_users\"]".into();
        env.audit_users =
            format!("start_from = \"3650d\"\npage_size = 250\nenrich_concurrency = 4\nbulk_threshold = 50\nenrich = {enrich}\n");
        let run = once_measured(&env, &bin).await;
        assert_eq!(super::lines(&env.events_path()), USERS, "every user once");
        let stats = env.sim.stats();
        let sink = sink_len(&env.events_path());
        let state = env.state_path();
        let db = file_len(&state)
            + file_len(&std::path::PathBuf::from(format!(
                "{}-wal",
                state.display()
            )));
        println!(
            "{:<24} {:>6} {:>6} {:>6} {:>12.1} {:>12.1} {:>14.1} {:>10.1} {:>9.1} {:>9.1}",
            name,
            stats.requests_of("admin_users"),
            stats.esign_list,
            stats.esign_requests,
            mib(run.wchar),
            mib(sink),
            mib(run.wchar.saturating_sub(sink)),
            mib(db),
            run.rss_mib,
            run.secs
        );
        let cursor = docusign_collector::state::State::open(&state)
            .ok()
            .and_then(|s| {
                s.cursor("acme", docusign_collector::record::EventType::AuditUsers)
                    .ok()
                    .flatten()
            })
            .map_or(0, |c| c.len());
        println!("{:<24} stored position: {cursor} bytes", "");
    }
}
