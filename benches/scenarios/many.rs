//! `many`: N integrations in one `run` (one simulator, N clients registered), customer events
//! every 60 s, for a few minutes: resident memory, CPU share and the worst poll lateness.
//!
//! `BENCH_MANY=1000,10000` sets the sizes, `BENCH_MANY_SECS=240` the length of each run (the
//! first 90 s, start-up and the spread first cycles, are left out of the CPU share).

use crate::common::*;
use docusign_collector::record::EventType;
use docusign_sim::{SimClient, SimConfig, SimHandle};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub(crate) const INTERVAL_S: i64 = 60;
const WARM_UP: Duration = Duration::from_secs(90);

/// (utime + stime) of `pid` in seconds, and its VmRSS and VmHWM in MiB.
pub(crate) fn sample(pid: u32) -> Option<(f64, f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
    let cpu = (f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    Some((cpu, kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
}

fn config(dir: &std::path::Path, sim: &SimHandle, cfg: &SimConfig, n: usize) -> std::path::PathBuf {
    let mut text = format!(
        "state_path = \"{}\"\n\n[log]\nlevel = \"warn\"\n\n[[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
        dir.join("state.db").display(),
        dir.join("events.jsonl").display()
    );
    for i in 0..n {
        let _ = write!(
            text,
            "\n[[integrations]]\nname = \"acct-{i}\"\nenvironment = \"developer\"\nintegration_key = \"ik-{i}\"\n\
             user_id = \"{USER_ID}\"\nprivate_key_file = \"{key}\"\naccount_id = \"{acc}\"\n\
             organization_id = \"{org}\"\n[integrations.customer_events]\ninterval = \"{INTERVAL_S}s\"\n\
             [integrations.endpoints]\noauth = \"{base}\"\nmonitor = \"{base}\"\nadmin = \"{admin}\"\n",
            key = dir.join("key.pem").display(),
            acc = cfg.account_id,
            org = cfg.organization_id,
            base = sim.base_url(),
            admin = sim.admin_url(),
        );
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The worst lateness of a poll, in seconds: a first cycle after start + min(interval, 60 s),
/// or a cycle after the previous one + interval.
fn worst_lateness(state: &std::path::Path, n: usize, start: i64) -> (i64, usize) {
    let state = docusign_collector::state::State::open(state).expect("state");
    let (mut worst, mut runs) = (0, 0);
    for i in 0..n {
        let mut starts: Vec<i64> = state
            .recent_runs(&format!("acct-{i}"), EventType::CustomerEvents, 200)
            .expect("runs")
            .iter()
            .map(|r| r.started_at)
            .collect();
        starts.sort_unstable();
        runs += starts.len();
        let mut previous = start;
        for s in starts {
            worst = worst.max(s - previous - INTERVAL_S);
            previous = s;
        }
    }
    (worst, runs)
}

/// A simulator with `n` clients (`ik-0` … `ik-{n-1}`, one key pair), and a directory holding that
/// key as `key.pem`.
pub(crate) async fn sim_with_clients(n: usize) -> (SimHandle, SimConfig, tempfile::TempDir) {
    let keys = key_pair();
    let clients = (0..n)
        .map(|i| SimClient {
            integration_key: format!("ik-{i}"),
            user_id: USER_ID.into(),
            public_key_pem: keys.1.clone(),
            consented_scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    let cfg = SimConfig {
        clients,
        ..sim_config(0)
    };
    let sim = SimHandle::start(cfg.clone(), ([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("key.pem"), &keys.0).expect("write key");
    (sim, cfg, dir)
}

async fn one(n: usize, secs: u64) {
    let (sim, cfg, dir) = sim_with_clients(n).await;
    let config = config(dir.path(), &sim, &cfg, n);
    let started_unix = chrono::Utc::now().timestamp();
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("collector starts");
    let pid = child.id().expect("pid");
    tokio::time::sleep(WARM_UP).await;
    let (cpu0, _, _) = sample(pid).expect("collector running");
    let w0 = Instant::now();
    let end = t0 + Duration::from_secs(secs.max(WARM_UP.as_secs() + 60));
    let mut peak_rss: f64 = 0.0;
    let mut last = (0.0, 0.0, 0.0);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(5)).await;
        last = sample(pid).expect("collector running");
        peak_rss = peak_rss.max(last.1);
    }
    let share = (last.0 - cpu0) / w0.elapsed().as_secs_f64();
    terminate(&mut child).await;
    let (worst, runs) = worst_lateness(&dir.path().join("state.db"), n, started_unix);
    let stats = sim.stats();
    println!(
        "{:>13} {:>8.0} {:>10.1} {:>10.1} {:>11.2}% {:>11} {:>8} {:>8}",
        n,
        t0.elapsed().as_secs_f64(),
        last.1,
        last.2,
        100.0 * share,
        worst,
        runs,
        stats.token_grants
    );
}

/// The scenario: every size in `BENCH_MANY` (default 1,000 and 10,000).
pub async fn many() {
    let sizes: Vec<usize> = std::env::var("BENCH_MANY")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let secs: u64 = std::env::var("BENCH_MANY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    println!("\n## many: N integrations in one `run`, customer events every {INTERVAL_S} s, {secs} s each");
    println!(
        "{:>13} {:>8} {:>10} {:>10} {:>12} {:>11} {:>8} {:>8}",
        "integrations",
        "seconds",
        "RSS MiB",
        "peak MiB",
        "CPU (1 core)",
        "worst late s",
        "polls",
        "grants"
    );
    for n in sizes {
        one(n, secs).await;
    }
}
