//! `commit`: the latency of one checkpoint commit, `State::save_cursor` (what the pipeline does
//! after every delivered page), on
//! - SQLite: a file, WAL, as `State::open` makes it;
//! - PostgreSQL without leases: `State::open_postgres`, the default 4 connections;
//! - PostgreSQL fenced: the same, with a lease claimed through the public API
//!   (`register`, `ensure_leases`, `claim`) and held in the `LeaseBook` given to
//!   `State::use_leases`, so every commit is the fenced statement a replica makes;
//! - and, for scale, the disk alone: an 8 KiB write over a preallocated file beside the SQLite
//!   database (as PostgreSQL writes its WAL) and its `fdatasync`.
//!
//! Blocks of 100 commits alternate between them, so all see the same machine at the same
//! moments; 50 commits each first are left out (connections, caches). `BENCH_COMMITS` (default
//! 2,000) sets the commits per backend. Client CPU is this process's threads' (SQLite itself, or
//! the caller and the `postgres` client's threads); server CPU is the PostgreSQL server's (the
//! postmaster and its children: the backends, the WAL writer, …); both per commit, from
//! `schedstat` (nanoseconds; the reading itself is in them, the same for every row).

use crate::common::pg::PgServer;
use crate::pg_support::{
    percentile, server_or_skip, server_running_cpu_seconds, threads_cpu_seconds,
};
use docusign_collector::record::EventType;
use docusign_collector::state::postgres::leases::Me;
use docusign_collector::state::postgres::PgSettings;
use docusign_collector::state::{LeaseBook, State};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BLOCK: usize = 100;
const WARM_UP: usize = 50;
const CE: EventType = EventType::CustomerEvents;
/// The disk-alone row: 8 KiB pages written in turn over a preallocated 1 MiB file.
const PAGE: usize = 8192;
const FSYNC_PAGES: usize = 128;

/// A Monitor-like cursor of 96 characters that changes with every commit.
fn cursor(i: usize) -> String {
    format!("{i:016x}{}", "c".repeat(80))
}

enum Target {
    State { state: State, integration: String },
    Fsync(std::fs::File),
}

impl Target {
    fn commit(&mut self, i: usize) {
        match self {
            Target::State { state, integration } => state
                .save_cursor(integration, CE, &cursor(i))
                .expect("commit"),
            Target::Fsync(file) => {
                let page = [i as u8; PAGE];
                let at = ((i % FSYNC_PAGES) * PAGE) as u64;
                file.write_all_at(&page, at).expect("write");
                file.sync_data().expect("fdatasync");
            }
        }
    }
}

struct Backend {
    name: &'static str,
    target: Target,
    latencies: Vec<f64>,
    client_cpu: f64,
    server_cpu: Option<f64>,
}

pub async fn commit() {
    let Some(server) = server_or_skip("commit") else {
        return;
    };
    tokio::task::spawn_blocking(move || run(&server))
        .await
        .expect("the commit scenario");
}

fn run(server: &PgServer) {
    let n: usize = std::env::var("BENCH_COMMITS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let rounds = n.div_ceil(BLOCK);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = server.fresh_database("bench_commit");
    let settings = PgSettings::new(&db, None, None, 4).expect("PostgreSQL settings");

    let sqlite = State::open(&dir.path().join("state.db")).expect("SQLite state");
    let plain = State::open_postgres(&settings).expect("PostgreSQL state");
    let fenced = State::open_postgres(&settings).expect("PostgreSQL state");
    let pg = fenced.postgres().expect("PostgreSQL").clone();
    let me = Me {
        name: "bench".into(),
        instance: format!("bench-{}", std::process::id()),
    };
    let lease = Duration::from_secs(3600);
    let names = vec!["fenced".to_string()];
    pg.register(&me, "bench-host", lease).expect("register");
    pg.ensure_leases(&names).expect("lease row");
    let claimed = pg.claim(&me, &names, 1, lease).expect("claim");
    assert_eq!(claimed.len(), 1, "the lease is claimed");
    let book = Arc::new(LeaseBook::new("bench"));
    book.hold("fenced", claimed[0].epoch);
    fenced.use_leases(book.clone());
    let fsync_file = std::fs::File::create(dir.path().join("fsync.bin")).expect("a file");
    fsync_file
        .write_all_at(&vec![0; PAGE * FSYNC_PAGES], 0)
        .expect("preallocate");
    fsync_file.sync_all().expect("fsync");

    let backend = |name, target| Backend {
        name,
        target,
        latencies: Vec::with_capacity(rounds * BLOCK),
        client_cpu: 0.0,
        server_cpu: Some(0.0),
    };
    let mut backends = vec![
        backend(
            "SQLite (file, WAL)",
            Target::State {
                state: sqlite.clone(),
                integration: "sqlite".into(),
            },
        ),
        backend(
            "PostgreSQL, no leases",
            Target::State {
                state: plain.clone(),
                integration: "plain".into(),
            },
        ),
        backend(
            "PostgreSQL, fenced",
            Target::State {
                state: fenced.clone(),
                integration: "fenced".into(),
            },
        ),
        backend("disk: 8 KiB write + fdatasync", Target::Fsync(fsync_file)),
    ];
    for b in &mut backends {
        for i in 0..WARM_UP {
            b.target.commit(i);
        }
    }
    let mut i = WARM_UP;
    for _ in 0..rounds {
        for b in &mut backends {
            // The server's reading scans /proc: outside the client's window.
            let server0 = server_running_cpu_seconds();
            let cpu0 = threads_cpu_seconds("self");
            for _ in 0..BLOCK {
                i += 1;
                let t = Instant::now();
                b.target.commit(i);
                b.latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            b.client_cpu += threads_cpu_seconds("self") - cpu0;
            let server1 = server_running_cpu_seconds();
            b.server_cpu = match (b.server_cpu, server0, server1) {
                (Some(sum), Some(s0), Some(s1)) => Some(sum + s1 - s0),
                _ => None,
            };
        }
    }
    assert!(
        book.epoch("fenced").is_some(),
        "no fenced commit was refused"
    );
    assert_eq!(
        fenced.cursor("fenced", CE).expect("read back").as_deref(),
        plain.cursor("fenced", CE).expect("read back").as_deref(),
        "both see the fenced commits"
    );

    println!(
        "\n## commit: State::save_cursor, {} commits per backend in alternating blocks of {BLOCK}",
        rounds * BLOCK
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "backend", "median ms", "p99 ms", "max ms", "mean ms", "×SQLite", "client µs", "server µs"
    );
    let sorted: Vec<Vec<f64>> = backends
        .iter()
        .map(|b| {
            let mut v = b.latencies.clone();
            v.sort_by(|a, b| a.total_cmp(b));
            v
        })
        .collect();
    let base = percentile(&sorted[0], 50.0);
    for (b, v) in backends.iter().zip(&sorted) {
        let per = |cpu: f64| cpu / v.len() as f64 * 1e6;
        let server = match (&b.target, b.server_cpu) {
            (Target::State { state, .. }, Some(s)) if state.postgres().is_some() => {
                format!("{:.0}", per(s))
            }
            _ => "-".into(),
        };
        println!(
            "{:<28} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.1} {:>12.0} {:>12}",
            b.name,
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN),
            v.iter().sum::<f64>() / v.len() as f64,
            percentile(v, 50.0) / base,
            per(b.client_cpu),
            server
        );
    }
    println!(
        "p99 ×SQLite: PostgreSQL {:.1}, fenced {:.1}; fenced ÷ no leases: median {:.2}, p99 {:.2}",
        percentile(&sorted[1], 99.0) / percentile(&sorted[0], 99.0),
        percentile(&sorted[2], 99.0) / percentile(&sorted[0], 99.0),
        percentile(&sorted[2], 50.0) / percentile(&sorted[1], 50.0),
        percentile(&sorted[2], 99.0) / percentile(&sorted[1], 99.0),
    );
    drop((plain, fenced, pg, backends));
    crate::pg_support::drop_database(server, &db);
}
