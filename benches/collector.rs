//! `cargo bench --bench collector [-- SCENARIO…]`: throughput and peak RSS of the release
//! collector against the built-in simulator on loopback. Scenarios (default: all):
//! - `drain`:  `once` drains a 50,000 and a 200,000-event backlog into a file;
//! - `users`:  10,000 audit users enriched one call each at concurrency 1 and 4, 20 ms per
//!   simulator answer;
//! - `bulk`:   a 10,000-user first load, single calls (before) against Users:list (after): calls,
//!   seconds and peak RSS, 20 ms per simulator answer;
//! - `budget`: a backlog drained under an hourly budget (ours, then Docusign's headers), as a
//!   fraction of the most the budget allows;
//! - `http`:   200,000 events through the http sink (ndjson, gzip off and on) to a loopback receiver;
//! - `yardstick`: the collector's events per CPU-second against the bare work on the same pages
//!   (split into RawValue slices, read each timestamp, splice the three fields, write an fsynced
//!   file), in the same run, and a 1,000,000-event drain's peak RSS;
//! - `soak`:   `run` for SOAK_SECS (default 600) under faults, a tight budget, short tokens, token
//!   revocations and a sink that goes down and up (not part of the default set: name it).
//! - `many`:   1,000 and 10,000 integrations in one `run` for four minutes each (only when named).
//! - `commit`: the latency of a checkpoint commit (`State::save_cursor`) on SQLite, PostgreSQL
//!   and PostgreSQL fenced by a lease;
//! - `takeover`: three replicas sharing PostgreSQL, one SIGKILLed: how long until its
//!   integrations have a live holder again (only when named);
//! - `replicas-many`: 10,000 integrations over three replicas: RSS, CPU, leases per replica,
//!   database sessions (only when named).
//! - `users-100k`: a 100,000-user audit-user first load through Users:list: calls, bytes
//!   written, the state's size, peak RSS, seconds; with `BENCH_BASELINE_BIN`, an older binary
//!   first, in the same run (only when named).
//!
//! The last three need PostgreSQL (`DOCUSIGN_COLLECTOR_TEST_PG`, as `scripts/pg-cluster start`
//! prints it); without it they say so and are skipped.
//!
//! The simulator (and the receiver) run in this process; the collector is a child process whose
//! peak RSS (VmHWM) is read from /proc while it runs.

#[path = "scenarios/commit.rs"]
mod commit;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "scenarios/many.rs"]
mod many;
#[path = "scenarios/pg_support.rs"]
mod pg_support;
#[path = "scenarios/replicas_many.rs"]
mod replicas_many;
#[path = "scenarios/takeover.rs"]
mod takeover;
#[path = "scenarios/users_100k.rs"]
mod users_100k;

use common::*;
use docusign_sim::{Faults, RateLimit, SimConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds used by this process's waited-for children so far (`cutime + cstime`).
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of stat, i.e. 13 and 14 after the name.
    let ticks: f64 = [13, 14]
        .iter()
        .filter_map(|&i| f.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// The collector binary under test: this build's, unless one is named.
fn binary(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_docusign-collector").to_string())
}

/// Run `once` and return (seconds, peak RSS in MiB).
async fn once(env: &Env) -> (f64, f64) {
    let (secs, rss, _) = once_with(env, &binary(None)).await;
    (secs, rss)
}

/// Run `once` with the given binary: (seconds, peak RSS in MiB, CPU seconds).
async fn once_with(env: &Env, bin: &str) -> (f64, f64, f64) {
    let config = env.write_config();
    let cpu0 = children_cpu_seconds();
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(bin)
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
        if let Ok(status) = tokio::time::timeout(Duration::from_millis(20), child.wait()).await {
            assert!(status.expect("wait").success(), "collector failed");
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    (secs, peak as f64 / 1024.0, children_cpu_seconds() - cpu0)
}

/// Records in the sink's file and its rotated predecessors (`.1`, `.2`, …).
fn lines(path: &std::path::Path) -> usize {
    let count = |p: &std::path::Path| {
        std::fs::read(p)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .ok()
    };
    let mut total = count(path).unwrap_or(0);
    for i in 1.. {
        match count(&std::path::PathBuf::from(format!("{}.{i}", path.display()))) {
            Some(n) => total += n,
            None => break,
        }
    }
    total
}

/// `BENCH_BASELINE_BIN=/path/to/older/docusign-collector`: the drain scenario also runs that
/// binary, alternating with this build's, and prints both and their ratio (same machine, same
/// moment: the comparison survives a noisy machine better than figures from different runs).
async fn drain_against_baseline(baseline: &str) {
    println!("\n## drain vs baseline {baseline}: `once`, backlog → file sink, 3 alternating rounds, medians");
    println!(
        "{:>10} {:>10} {:>12} {:>12} {:>12} {:>8}",
        "events", "binary", "events/s", "events/cpu-s", "peak RSS MiB", "ratio"
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    for n in [50_000, 200_000] {
        let mut runs: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); 2];
        for _round in 0..3 {
            for (i, bin) in [baseline.to_string(), binary(None)].iter().enumerate() {
                let env = Env::start(sim_config(n)).await;
                let (secs, rss, cpu) = once_with(&env, bin).await;
                assert_eq!(lines(&env.events_path()), n, "every event delivered");
                runs[i].0.push(n as f64 / secs);
                runs[i].1.push(n as f64 / cpu.max(0.01));
                runs[i].2.push(rss);
            }
        }
        let rates: Vec<f64> = runs.iter().map(|r| median(r.0.clone())).collect();
        for (i, name) in ["baseline", "this"].iter().enumerate() {
            println!(
                "{:>10} {:>10} {:>12.0} {:>12.0} {:>12.1} {:>8.2}",
                n,
                name,
                rates[i],
                median(runs[i].1.clone()),
                median(runs[i].2.clone()),
                rates[i] / rates[0]
            );
        }
    }
}

async fn drain() {
    if let Ok(baseline) = std::env::var("BENCH_BASELINE_BIN") {
        return drain_against_baseline(&baseline).await;
    }
    println!("\n## drain: `once`, backlog → file sink (page_size 2000)");
    println!(
        "{:>10} {:>9} {:>12} {:>14}",
        "events", "seconds", "events/s", "peak RSS MiB"
    );
    for n in [50_000, 200_000] {
        let env = Env::start(sim_config(n)).await;
        let (secs, rss) = once(&env).await;
        assert_eq!(lines(&env.events_path()), n, "every event delivered");
        println!(
            "{:>10} {:>9.2} {:>12.0} {:>14.1}",
            n,
            secs,
            n as f64 / secs,
            rss
        );
    }
}

async fn users() {
    println!("\n## users: 10,000 audit users, eSignature enrichment, 20 ms per simulator answer");
    println!(
        "{:>12} {:>9} {:>10} {:>14}",
        "concurrency", "seconds", "users/s", "peak RSS MiB"
    );
    for c in [1, 4] {
        let mut env = Env::start(SimConfig {
            users: 10_000,
            ..sim_config(0)
        })
        .await;
        env.integration_extra = "event_types = [\"audit_users\"]".into();
        env.audit_users =
            format!("start_from = \"3650d\"\npage_size = 250\nenrich_concurrency = {c}\nbulk_threshold = {}\n", u32::MAX);
        env.sim.set_faults(Faults {
            delay: Duration::from_millis(20),
            ..Faults::default()
        });
        let (secs, rss) = once(&env).await;
        assert_eq!(lines(&env.events_path()), 10_000);
        println!(
            "{:>12} {:>9.2} {:>10.0} {:>14.1}",
            c,
            secs,
            10_000.0 / secs,
            rss
        );
    }
}

async fn bulk() {
    println!("\n## bulk: 10,000-user first load, enrich_concurrency 4, 20 ms per simulator answer");
    println!(
        "{:<26} {:>7} {:>7} {:>7} {:>7} {:>9} {:>14}",
        "enrichment", "calls", "admin", "list", "single", "seconds", "peak RSS MiB"
    );
    for (name, threshold) in [
        ("single calls (before)", u32::MAX),
        ("Users:list (after)", 50),
    ] {
        let mut env = Env::start(SimConfig {
            users: 10_000,
            ..sim_config(0)
        })
        .await;
        env.integration_extra = "event_types = [\"audit_users\"]".into();
        env.audit_users = format!(
            "start_from = \"3650d\"\npage_size = 250\nenrich_concurrency = 4\nbulk_threshold = {threshold}\n"
        );
        env.sim.set_faults(Faults {
            delay: Duration::from_millis(20),
            ..Faults::default()
        });
        let (secs, rss) = once(&env).await;
        assert_eq!(lines(&env.events_path()), 10_000);
        let stats = env.sim.stats();
        let (admin, list, single) = (
            stats.requests_of("admin_users"),
            stats.esign_list,
            stats.esign_requests,
        );
        println!(
            "{:<26} {:>7} {:>7} {:>7} {:>7} {:>9.2} {:>14.1}",
            name,
            admin + list + single,
            admin,
            list,
            single,
            secs,
            rss
        );
    }
}

async fn budget() {
    println!("\n## budget: backlog drained under an hourly budget (page_size 100)");
    println!(
        "{:<44} {:>9} {:>12} {:>12} {:>9} {:>6}",
        "budget", "seconds", "events/s", "allowed/s", "fraction", "429s"
    );
    // Our own share: rate_limit.per_hour = 36,000 calls (10/s), no burst head start.
    let mut env = Env::start(sim_config(30_000)).await;
    env.customer_events = "page_size = 100\nstart_from = \"30d\"\n".into();
    env.rate_limit = "per_hour = 36000\nburst = 1\n".into();
    let (secs, _) = once(&env).await;
    assert_eq!(lines(&env.events_path()), 30_000);
    let allowed = 36_000.0 / 3600.0 * 100.0;
    let rate = 30_000.0 / secs;
    println!(
        "{:<44} {:>9.2} {:>12.0} {:>12.0} {:>8.1}% {:>6}",
        "rate_limit.per_hour = 36000, burst = 1",
        secs,
        rate,
        allowed,
        100.0 * rate / allowed,
        env.sim.stats().rate_limited
    );
    // Docusign's budget, read from the headers: 30 calls per 5-second window, reserve 0.
    let mut env = Env::start(sim_config(30_000)).await;
    env.customer_events = "page_size = 100\nstart_from = \"30d\"\n".into();
    env.rate_limit = "per_hour = 1000000\nburst = 10000\nreserve = 0\n".into();
    env.sim.set_rate_limit(Some(RateLimit {
        limit: 30,
        window: Duration::from_secs(5),
        burst_limit: 10_000,
        burst_window: Duration::from_secs(30),
    }));
    let (secs, _) = once(&env).await;
    assert_eq!(lines(&env.events_path()), 30_000);
    let allowed = 30.0 / 5.0 * 100.0;
    let rate = 30_000.0 / secs;
    println!(
        "{:<44} {:>9.2} {:>12.0} {:>12.0} {:>8.1}% {:>6}",
        "Docusign headers: 30 calls / 5 s window",
        secs,
        rate,
        allowed,
        100.0 * rate / allowed,
        env.sim.stats().rate_limited
    );
}

/// A receiver that only counts records (newlines after gunzip), so it costs the machine little.
async fn counting_receiver(count: Arc<AtomicUsize>) -> String {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use std::io::Read;
    let app = axum::Router::new().route(
        "/ingest",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let count = count.clone();
            async move {
                let n = if headers.get("content-encoding").is_some() {
                    let mut raw = Vec::new();
                    let _ = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut raw);
                    raw.iter().filter(|&&c| c == b'\n').count()
                } else {
                    body.iter().filter(|&&c| c == b'\n').count()
                };
                count.fetch_add(n, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/ingest")
}

async fn http() {
    println!("\n## http: 200,000 events through the http sink (ndjson, batch_max_events 500)");
    println!(
        "{:>6} {:>9} {:>12} {:>14}",
        "gzip", "seconds", "events/s", "peak RSS MiB"
    );
    for gzip in [false, true] {
        let count = Arc::new(AtomicUsize::new(0));
        let url = counting_receiver(count.clone()).await;
        let mut env = Env::start(sim_config(200_000)).await;
        env.file_sink = false;
        env.extra = format!(
            "[[sinks]]\ntype = \"http\"\nurl = \"{url}\"\nformat = \"ndjson\"\ngzip = {gzip}\n"
        );
        let (secs, rss) = once(&env).await;
        assert_eq!(count.load(Ordering::Relaxed), 200_000);
        println!(
            "{:>6} {:>9.2} {:>12.0} {:>14.1}",
            gzip,
            secs,
            200_000.0 / secs,
            rss
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    if run("drain") {
        drain().await;
    }
    if run("users") {
        users().await;
    }
    if run("bulk") {
        bulk().await;
    }
    if run("budget") {
        budget().await;
    }
    if run("http") {
        http().await;
    }
    if run("yardstick") {
        yardstick().await;
    }
    if wanted.iter().any(|w| w == "soak") {
        soak().await;
    }
    if wanted.iter().any(|w| w == "many") {
        many::many().await;
    }
    if run("commit") {
        commit::commit().await;
    }
    if wanted.iter().any(|w| w == "takeover") {
        takeover::takeover().await;
    }
    if wanted.iter().any(|w| w == "replicas-many") {
        replicas_many::replicas_many().await;
    }
    if wanted.iter().any(|w| w == "users-100k") {
        users_100k::users_100k().await;
    }
}

/// RSS (MiB) and open file descriptors of a running process.
fn rss_and_fds(pid: u32) -> (f64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

/// The daemon for a long while under everything at once: 10 % failing API answers, a budget that
/// runs out every window, 30-second tokens, all tokens revoked every 2 minutes, and the SIEM
/// receiver down for 30 s of every 2 minutes. Reports events in and out, 429s after the first
/// window, and RSS and file descriptors at the start and the end.
async fn soak() {
    use common::receiver::Receiver;
    use docusign_sim::RateLimit;
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    println!("\n## soak: `run` for {secs} s under faults, a tight budget, short tokens, revocations, a flapping sink");
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let mut env = Env::start(SimConfig {
        live_events_per_sec: 40.0,
        token_lifetime: Duration::from_secs(30),
        ..sim_config(20_000)
    })
    .await;
    env.file_sink = false;
    env.customer_events = "page_size = 500\nstart_from = \"30d\"\n".into();
    env.rate_limit = "per_hour = 1000000\nburst = 10000\nreserve = 0\n".into();
    env.extra =
        format!("[[sinks]]\ntype = \"http\"\nurl = \"{url}\"\ngzip = true\nretry_max = \"2s\"\n");
    env.sim.set_faults(Faults {
        error_rate: 0.10,
        error_statuses: vec![500, 502, 503, 504],
        truncate_rate: 0.02,
        ..Faults::default()
    });
    // 20 calls per 10-second window: the budget runs out in every window of the backlog.
    let window = Duration::from_secs(10);
    env.sim.set_rate_limit(Some(RateLimit {
        limit: 20,
        window,
        burst_limit: 1000,
        burst_window: Duration::from_secs(30),
    }));
    let mut child = env.spawn(&["run"]);
    let pid = child.id().expect("pid");
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (rss0, fds0) = rss_and_fds(pid);
    let limited_after_first_window = env.sim.stats().rate_limited;
    let mut next_flap = Duration::from_secs(60);
    while t0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let at = t0.elapsed();
        if at >= next_flap {
            env.sim.revoke_tokens();
            receiver.lock().always = Some(503);
            next_flap += Duration::from_secs(120);
        } else if at + Duration::from_secs(90) >= next_flap {
            receiver.lock().always = None;
        }
    }
    receiver.lock().always = None;
    // Let it catch up with the events appended so far, then stop it.
    let produced = env.sim.event_count();
    let caught_up = Instant::now();
    while caught_up.elapsed() < Duration::from_secs(120) {
        let got: std::collections::HashSet<String> = receiver
            .events()
            .iter()
            .filter_map(|e| e["eventId"].as_str().map(str::to_string))
            .collect();
        if got.len() >= produced {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (rss1, fds1) = rss_and_fds(pid);
    terminate(&mut child).await;
    let events = receiver.events();
    let ids: Vec<String> = events
        .iter()
        .filter_map(|e| e["eventId"].as_str().map(str::to_string))
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    // Events appended after the catch-up point (the simulator keeps producing) are not expected.
    let all: std::collections::HashSet<String> =
        env.sim.event_ids().into_iter().take(produced).collect();
    let missing = all.iter().filter(|id| !unique.contains(id)).count();
    let stats = env.sim.stats();
    println!(
        "{:<44} {:>12}",
        "events produced by the simulator",
        all.len()
    );
    println!(
        "{:<44} {:>12}",
        "records received (with duplicates)",
        ids.len()
    );
    println!("{:<44} {:>12}", "distinct events received", unique.len());
    println!("{:<44} {:>12}", "events missing", missing);
    println!(
        "{:<44} {:>12}",
        "injected API faults",
        stats.faults_injected + stats.truncated
    );
    println!("{:<44} {:>12}", "token grants", stats.token_grants);
    println!(
        "{:<44} {:>12}",
        "429s after the first 30 s",
        stats.rate_limited - limited_after_first_window
    );
    println!(
        "{:<44} {:>12.1} {:>8.1}",
        "RSS MiB at 30 s / at the end", rss0, rss1
    );
    println!(
        "{:<44} {:>12} {:>8}",
        "open fds at 30 s / at the end", fds0, fds1
    );
    assert_eq!(missing, 0, "every event delivered");
}

/// CPU seconds this process has used (`utime + stime`).
fn self_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    [11, 12]
        .iter()
        .filter_map(|&i| f.get(i)?.parse::<f64>().ok())
        .sum::<f64>()
        / 100.0
}

/// The bare work on the pages: split into raw event slices, read each `timestamp`, splice the
/// three fields in, write to a file fsynced per page. Returns (events, CPU seconds).
fn bare_work(pages: &[bytes::Bytes], path: &std::path::Path) -> (usize, f64) {
    use serde_json::value::RawValue;
    use std::borrow::Cow;
    use std::io::Write;
    #[derive(serde::Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        data: Vec<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Peek<'a> {
        #[serde(borrow)]
        timestamp: Option<Cow<'a, str>>,
    }
    let cpu0 = self_cpu_seconds();
    let mut file = std::fs::File::create(path).expect("yardstick file");
    let mut events = 0;
    for body in pages {
        let page: Page = serde_json::from_slice(body).expect("page");
        let mut out = Vec::with_capacity(body.len() + page.data.len() * 96);
        for ev in page.data {
            let t = serde_json::from_str::<Peek>(ev.get())
                .ok()
                .and_then(|p| p.timestamp)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            let time = chrono::DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ");
            let raw = ev.get();
            out.extend_from_slice(&raw.as_bytes()[..raw.len() - 1]);
            writeln!(
                out,
                ",\"_time\":\"{time}\",\"source_log_type\":\"customerevent\",\"_integration\":\"acme\"}}"
            )
            .expect("buffer");
            events += 1;
        }
        file.write_all(&out).expect("write");
        file.sync_data().expect("fsync");
    }
    (events, self_cpu_seconds() - cpu0)
}

async fn yardstick() {
    let n = 200_000;
    println!("\n## yardstick: {n} events, the collector (`once` into a file) against the bare work on the same pages");
    let env = Env::start(sim_config(n)).await;
    let pages = fetch_raw_pages(&env, "1970-01-01T00:00:00Z").await;
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (mut bare, mut ours, mut wall) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let (events, cpu) = bare_work(&pages, &env.path("yardstick.jsonl"));
        assert_eq!(events, n);
        bare.push(n as f64 / cpu.max(0.01));
        let run = Env::start(sim_config(n)).await;
        let (secs, _, cpu) = once_with(&run, &binary(None)).await;
        assert_eq!(lines(&run.events_path()), n);
        ours.push(n as f64 / cpu.max(0.01));
        wall.push(n as f64 / secs);
    }
    let (bare, ours) = (median(bare), median(ours));
    println!("{:<48} {:>12.0}", "bare work, events per CPU-second", bare);
    println!("{:<48} {:>12.0}", "collector, events per CPU-second", ours);
    println!("{:<48} {:>12.2}", "collector / bare work", ours / bare);
    println!(
        "{:<48} {:>12.0}",
        "collector, wall-clock events/s (with the simulator)",
        median(wall)
    );

    println!("\n## peak RSS draining a backlog (page_size 2000)");
    println!("{:>10} {:>9} {:>14}", "events", "seconds", "peak RSS MiB");
    for n in [50_000, 1_000_000] {
        let env = Env::start(sim_config(n)).await;
        let (secs, rss) = once(&env).await;
        assert_eq!(lines(&env.events_path()), n);
        println!("{:>10} {:>9.2} {:>14.1}", n, secs, rss);
    }
}
