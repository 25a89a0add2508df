//! `replicas-many`: N integrations (default 10,000) over three replicas sharing PostgreSQL, one
//! simulator with N clients as in `many`, customer events every 60 s (steady-state polls: no
//! events), the default lease (30 s) and connections (4) per replica, logs at `warn`.
//!
//! The three start together. Warm-up, left out: until the leases are balanced (every
//! integration held, no replica above ⌈N ÷ 3⌉ nor below what the others leave), then 60 s
//! (streams that changed hands make their spread first cycles). Then `BENCH_REPLICAS_SECS`
//! (default 180) are measured, sampling every 10 s:
//! - per replica: `VmRSS` at the window's start, every minute and at its end, `VmHWM`, threads,
//!   the CPU share (`utime + stime` over the window ÷ wall time, in % of one core), the leases it
//!   holds (least and most over the samples), its sessions in `pg_stat_activity` (most over the
//!   samples and during the warm-up; each replica names itself in `application_name`);
//! - the PostgreSQL server's CPU share (all processes of its postmaster) and this process's
//!   (the simulator, and the sampling);
//! - leases that changed hands in the window (the sum of the epochs: every claim raises one);
//! - the database's transactions per second, WAL written, and rows changed per table;
//! - polls in the window and the worst lateness between two polls of a stream (start − previous
//!   start − 60 s), from the run history in the database.
//!
//! `BENCH_REPLICAS_N` sets N.

use crate::many::{sample, sim_with_clients, INTERVAL_S};
use crate::pg_support::*;
use docusign_collector::record::EventType;
use docusign_collector::state::State;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const REPLICAS: [&str; 3] = ["r1", "r2", "r3"];
const SAMPLE: Duration = Duration::from_secs(10);
const SETTLE: Duration = Duration::from_secs(60);

/// The leases (integration → live holder, and the sum of every epoch), read off the async workers.
async fn leases(observer: &State) -> (HashMap<String, String>, i64) {
    let observer = observer.clone();
    tokio::task::spawn_blocking(move || live_holders(&observer))
        .await
        .expect("reading the leases")
}

async fn connections(server: &crate::common::pg::PgServer, db: &str) -> BTreeMap<String, usize> {
    let (server, db) = (server.clone(), db.to_string());
    tokio::task::spawn_blocking(move || connections_by_application(&server, &db))
        .await
        .expect("counting sessions")
}

/// The database's activity so far: transactions committed, WAL bytes written, and rows
/// inserted, updated and deleted per table.
async fn activity(
    server: &crate::common::pg::PgServer,
    db: &str,
) -> (f64, f64, BTreeMap<String, [f64; 3]>) {
    let (server, db) = (server.clone(), db.to_string());
    tokio::task::spawn_blocking(move || {
        let totals = psql(
            &server,
            &db,
            "SELECT xact_commit, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') \
             FROM pg_stat_database WHERE datname = current_database()",
        );
        let mut t = totals
            .trim()
            .split('|')
            .map(|v| v.parse::<f64>().unwrap_or(0.0));
        let (commits, wal) = (t.next().unwrap_or(0.0), t.next().unwrap_or(0.0));
        let tables = psql(
            &server,
            &db,
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables",
        )
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            Some((f.first()?.to_string(), [n(1), n(2), n(3)]))
        })
        .collect();
        (commits, wal, tables)
    })
    .await
    .expect("reading the database's statistics")
}

/// Threads of a process (`Threads:` in its status).
fn threads(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Threads:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[derive(Default, Clone)]
struct Seen {
    leases_min: usize,
    leases_max: usize,
    connections_max: usize,
    connections_max_warm_up: usize,
}

pub async fn replicas_many() {
    let Some(server) = server_or_skip("replicas-many") else {
        return;
    };
    let n: usize = std::env::var("BENCH_REPLICAS_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let secs: u64 = std::env::var("BENCH_REPLICAS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let (sim, cfg, dir) = sim_with_clients(n).await;
    let key_file = dir.path().join("key.pem");
    let db = server.fresh_database("bench_replicas_many");
    let observer = observer(&db);
    let integrations: String = (0..n)
        .map(|i| {
            integration_toml(
                &format!("acct-{i}"),
                &format!("ik-{i}"),
                &key_file,
                &sim,
                &cfg,
                &format!("{INTERVAL_S}s"),
            )
        })
        .collect();
    let log = |r: &str| dir.path().join(format!("{r}.log"));
    let configs: Vec<_> = REPLICAS
        .iter()
        .map(|r| replica_config(dir.path(), r, &db, "30s", &integrations))
        .collect();
    drop(integrations);

    println!(
        "\n## replicas-many: {n} integrations over {} replicas sharing PostgreSQL, customer events every {INTERVAL_S} s, \
         lease 30 s, 4 connections each; {secs} s measured after the warm-up",
        REPLICAS.len()
    );
    let t0 = Instant::now();
    let mut children: Vec<tokio::process::Child> = REPLICAS
        .iter()
        .zip(&configs)
        .map(|(r, c)| spawn_replica(c, &log(r)))
        .collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id().expect("pid")).collect();
    let share = n.div_ceil(REPLICAS.len());
    let mut seen: BTreeMap<&str, Seen> = REPLICAS
        .iter()
        .map(|r| {
            (
                *r,
                Seen {
                    leases_min: usize::MAX,
                    ..Seen::default()
                },
            )
        })
        .collect();
    let mut total_connections_max_warm_up = 0;

    // Warm-up: until balanced (10 minutes at most, looked at every 5 s), then SETTLE.
    let mut balanced_after = None;
    let mut next_line = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (holders, _) = leases(&observer).await;
        let conns = connections(&server, &db).await;
        for r in REPLICAS {
            let c = conns.get(r).copied().unwrap_or(0);
            let s = seen.get_mut(r).expect("replica");
            s.connections_max_warm_up = s.connections_max_warm_up.max(c);
        }
        total_connections_max_warm_up = total_connections_max_warm_up
            .max(REPLICAS.iter().filter_map(|r| conns.get(*r)).sum::<usize>());
        let by = held_by(&holders);
        if t0.elapsed() >= next_line {
            println!(
                "  warm-up {:>4.0} s: leases {} (unheld {}); sessions {}",
                t0.elapsed().as_secs_f64(),
                REPLICAS
                    .iter()
                    .map(|r| format!("{r} {}", by.get(*r).copied().unwrap_or(0)))
                    .collect::<Vec<_>>()
                    .join(", "),
                n - holders.len(),
                REPLICAS
                    .iter()
                    .map(|r| format!("{r} {}", conns.get(*r).copied().unwrap_or(0)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            next_line += Duration::from_secs(15);
        }
        if balanced(&holders, n, &REPLICAS) {
            balanced_after = Some(t0.elapsed());
            break;
        }
    }
    match balanced_after {
        Some(d) => println!(
            "balanced (every integration held, at most {share} per replica) {:.0} s after the start",
            d.as_secs_f64()
        ),
        None => println!("NOT balanced within 600 s; measuring anyway"),
    }
    tokio::time::sleep(SETTLE).await;

    // The measured window.
    let window_unix = chrono::Utc::now().timestamp();
    let w0 = Instant::now();
    let start: Vec<(f64, f64, f64)> = pids
        .iter()
        .map(|&p| sample(p).expect("replica running"))
        .collect();
    let (server0, self0) = (server_cpu_seconds(), crate::self_cpu_seconds());
    let (_, epochs0) = leases(&observer).await;
    let activity0 = activity(&server, &db).await;
    let mut last = vec![(0.0, 0.0, 0.0); pids.len()];
    let mut total_connections_max = 0;
    let mut samples = 0;
    // RSS of each replica at the window's start and at every full minute of it.
    let rss_line = |at: f64, rss: Vec<f64>| {
        format!(
            "{at:.0} s {}",
            rss.iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join("/")
        )
    };
    let mut trend = vec![rss_line(0.0, start.iter().map(|s| s.1).collect())];
    while w0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(SAMPLE.min(Duration::from_secs(secs).saturating_sub(w0.elapsed())))
            .await;
        for (i, &p) in pids.iter().enumerate() {
            last[i] = sample(p).unwrap_or_else(|| panic!("{} exited", REPLICAS[i]));
        }
        let (holders, _) = leases(&observer).await;
        let by = held_by(&holders);
        let conns = connections(&server, &db).await;
        for r in REPLICAS {
            let s = seen.get_mut(r).expect("replica");
            let held = by.get(r).copied().unwrap_or(0);
            s.leases_min = s.leases_min.min(held);
            s.leases_max = s.leases_max.max(held);
            s.connections_max = s.connections_max.max(conns.get(r).copied().unwrap_or(0));
        }
        total_connections_max =
            total_connections_max.max(REPLICAS.iter().filter_map(|r| conns.get(*r)).sum::<usize>());
        samples += 1;
        if samples % 6 == 0 {
            trend.push(rss_line(
                w0.elapsed().as_secs_f64(),
                last.iter().map(|s| s.1).collect(),
            ));
        }
    }
    let wall = w0.elapsed().as_secs_f64();
    let (server1, self1) = (server_cpu_seconds(), crate::self_cpu_seconds());
    let (_, epochs1) = leases(&observer).await;
    let activity1 = activity(&server, &db).await;
    let window_end_unix = chrono::Utc::now().timestamp();

    println!(
        "{:<22} {:>13} {:>9} {:>13} {:>15} {:>9} {:>8}",
        "", "RSS MiB", "peak MiB", "CPU (1 core)", "leases min–max", "sessions", "threads"
    );
    let mut replicas_cpu = 0.0;
    for (i, r) in REPLICAS.iter().enumerate() {
        let share = (last[i].0 - start[i].0) / wall;
        replicas_cpu += share;
        println!(
            "{:<22} {:>13} {:>9.1} {:>12.2}% {:>15} {:>9} {:>8}",
            format!("replica {r}"),
            format!("{:.1} → {:.1}", start[i].1, last[i].1),
            last[i].2,
            100.0 * share,
            format!("{}–{}", seen[r].leases_min, seen[r].leases_max),
            format!(
                "{} ({})",
                seen[r].connections_max, seen[r].connections_max_warm_up
            ),
            threads(pids[i])
        );
    }
    println!(
        "{:<22} {:>13} {:>9} {:>12.2}% {:>15} {:>9}",
        "replicas together",
        "",
        "",
        100.0 * replicas_cpu,
        "",
        format!("{total_connections_max} ({total_connections_max_warm_up})")
    );
    if let (Some(s0), Some(s1)) = (server0, server1) {
        println!(
            "{:<22} {:>13} {:>9} {:>12.2}%",
            "PostgreSQL server",
            "",
            "",
            100.0 * (s1 - s0) / wall
        );
    }
    println!(
        "{:<22} {:>13} {:>9} {:>12.2}%",
        "simulator + sampling",
        "",
        "",
        100.0 * (self1 - self0) / wall
    );
    println!(
        "sessions: most in any of {samples} samples of the window (in parentheses: during the warm-up); \
         3 replicas × 4 connections = 12"
    );
    println!(
        "RSS: at the start of the window → at its end; every minute (MiB, {}): {}",
        REPLICAS.join("/"),
        trend.join(", ")
    );
    println!(
        "leases that changed hands in the window: {}",
        epochs1 - epochs0
    );
    println!(
        "database: {:.0} transactions/s, WAL {:.2} MiB/min; rows inserted/updated/deleted per second: {}",
        (activity1.0 - activity0.0) / wall,
        (activity1.1 - activity0.1) / wall * 60.0 / (1024.0 * 1024.0),
        activity1
            .2
            .iter()
            .filter_map(|(table, now)| {
                let before = activity0.2.get(table).copied().unwrap_or_default();
                let rate: Vec<f64> = (0..3).map(|k| (now[k] - before[k]) / wall).collect();
                (rate.iter().sum::<f64>() >= 0.05)
                    .then(|| format!("{table} {:.1}/{:.1}/{:.1}", rate[0], rate[1], rate[2]))
            })
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Stop them; each releases its leases.
    let mut stops = Vec::new();
    for child in &mut children {
        stops.push(stop_replica(child, Duration::from_secs(120)).await);
    }
    println!(
        "stopped (SIGTERM → exit): {}; leases still held afterwards: {}",
        stops
            .iter()
            .zip(REPLICAS)
            .map(|(s, r)| format!(
                "{r} {}",
                s.map_or("killed after 120 s".into(), |d| format!(
                    "{:.1} s",
                    d.as_secs_f64()
                ))
            ))
            .collect::<Vec<_>>()
            .join(", "),
        leases(&observer).await.0.len()
    );

    let (polls, worst, silent) = {
        let observer = observer.clone();
        tokio::task::spawn_blocking(move || lateness(&observer, n, window_unix, window_end_unix))
            .await
            .expect("reading the run history")
    };
    println!(
        "polls in the window: {polls} (expected about {:.0}); worst lateness {worst} s; streams without a poll in the window: {silent}; token grants: {}",
        n as f64 * wall / INTERVAL_S as f64,
        sim.stats().token_grants
    );
    log_summary(&REPLICAS.map(|r| (r, log(r))));
    drop(observer);
    drop_database(&server, &db);
}

/// Polls started within [from, to] (unix seconds), the worst lateness of one of them (start −
/// previous start − interval), and the streams without a poll in the window.
fn lateness(state: &State, n: usize, from: i64, to: i64) -> (usize, i64, usize) {
    let (mut polls, mut worst, mut silent) = (0, 0, 0);
    for i in 0..n {
        let mut starts: Vec<i64> = state
            .recent_runs(&format!("acct-{i}"), EventType::CustomerEvents, 50)
            .expect("runs")
            .iter()
            .map(|r| r.started_at)
            .collect();
        starts.sort_unstable();
        let mut here = 0;
        for (k, &s) in starts.iter().enumerate() {
            if s < from || s > to {
                continue;
            }
            here += 1;
            if k > 0 {
                worst = worst.max(s - starts[k - 1] - INTERVAL_S);
            }
        }
        polls += here;
        if here == 0 {
            silent += 1;
        }
    }
    (polls, worst, silent)
}
