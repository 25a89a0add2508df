//! `cargo bench --bench drain`: how fast `once` drains a simulator backlog into a file, and the
//! collector's peak RSS, for 50,000 and 200,000 events (memory must not grow with the backlog).
//! The simulator runs in this process; the collector (release build) is a child process whose
//! VmHWM is read from /proc while it runs.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::{Duration, Instant};

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run `once` and return (seconds, peak RSS in KiB).
async fn drain(env: &Env) -> (f64, u64) {
    let config = env.write_config();
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
        .arg("--config")
        .arg(&config)
        .arg("once")
        .env("DOCUSIGN_COLLECTOR__LOG__LEVEL", "warn")
        .spawn()
        .expect("collector starts");
    let pid = child.id().expect("pid");
    let mut peak = 0;
    loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        match tokio::time::timeout(Duration::from_millis(20), child.wait()).await {
            Ok(status) => {
                assert!(status.expect("wait").success(), "collector failed");
                break;
            }
            Err(_) => continue,
        }
    }
    (t0.elapsed().as_secs_f64(), peak)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect::<Vec<_>>();
    let sizes = if sizes.is_empty() {
        vec![50_000, 200_000]
    } else {
        sizes
    };
    println!(
        "{:>10} {:>9} {:>12} {:>14}",
        "events", "seconds", "events/s", "peak RSS MiB"
    );
    for n in sizes {
        let env = Env::start(sim_config(n)).await;
        let (secs, peak_kib) = drain(&env).await;
        let lines = std::fs::read_to_string(env.events_path())
            .map(|t| t.lines().count())
            .unwrap_or(0);
        assert_eq!(lines, n, "every event delivered");
        println!(
            "{:>10} {:>9.2} {:>12.0} {:>14.1}",
            n,
            secs,
            n as f64 / secs,
            peak_kib as f64 / 1024.0
        );
    }
}
