//! What the PostgreSQL scenarios (`commit`, `takeover`, `replicas-many`) share: the server the
//! environment names (or a message saying why the scenario is skipped), psql queries, the
//! server's CPU time, replica configurations and processes, and who holds which lease.

use crate::common::pg::{self, PgServer};
use docusign_collector::state::State;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to start the cluster these scenarios need (durable: not `PG_FAST=1`).
const HOW_TO_START: &str = "eval \"$(scripts/pg-cluster start /tmp/pg-bench)\"";

/// The server `DOCUSIGN_COLLECTOR_TEST_PG` names, or `None` after printing why `scenario` is
/// skipped. Warns when the server does not make commits durable (the latencies would mean nothing).
pub(crate) fn server_or_skip(scenario: &str) -> Option<PgServer> {
    let Some(server) = pg::server() else {
        println!(
            "\n## {scenario}: skipped: DOCUSIGN_COLLECTOR_TEST_PG is unset. Start a throwaway PostgreSQL \
             cluster (as root or as the OS user postgres; without PG_FAST=1) and run again from the same shell:\n   {HOW_TO_START}"
        );
        return None;
    };
    let settings = psql(
        &server,
        &server.url,
        "SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit')",
    );
    if settings.trim() != "on on" {
        println!(
            "\n!! {scenario}: the server runs with fsync/synchronous_commit = {}: commits are not \
             durable (PG_FAST=1?), so the latencies below are not the collector's",
            settings.trim()
        );
    }
    Some(server)
}

/// Runs `sql` with psql as `collector` on `url`; returns the unaligned, tuples-only output.
pub(crate) fn psql(server: &PgServer, url: &str, sql: &str) -> String {
    server.psql_on(url, &[sql])
}

/// `url` with one more query parameter (`key=value`).
pub(crate) fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// The database name of a URL from `PgServer::fresh_database`.
pub(crate) fn database_name(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// Drop a database made for one run (replicas stopped first).
pub(crate) fn drop_database(server: &PgServer, url: &str) {
    psql(
        server,
        &server.url,
        &format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            database_name(url)
        ),
    );
}

/// Sessions on the database of `url`, by `application_name` (each replica names itself in its
/// `state_url`), this query's own not counted.
pub(crate) fn connections_by_application(server: &PgServer, url: &str) -> BTreeMap<String, usize> {
    let out = psql(
        server,
        &server.url,
        &format!(
            "SELECT application_name, count(*) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid() GROUP BY 1",
            database_name(url)
        ),
    );
    out.lines()
        .filter_map(|l| {
            let (app, n) = l.rsplit_once('|')?;
            Some((app.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

/// Fields of `/proc/PID/stat` after the command name (`[0]` is the state, `[1]` the parent).
fn stat_fields(pid: u32) -> Option<Vec<f64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(
        rest.split_whitespace()
            .map(|f| f.parse::<f64>().unwrap_or(0.0))
            .collect(),
    )
}

/// The PostgreSQL server's postmaster, from `postmaster.pid` in its data directory.
fn postmaster_pid() -> Option<u32> {
    let data = std::env::var_os(pg::PGDATA_VAR)?;
    std::fs::read_to_string(Path::new(&data).join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The live children of `pid` with their `stat` fields (as [`stat_fields`] gives them).
fn children(pid: u32) -> Option<Vec<(u32, Vec<f64>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(c) = stat_fields(child) {
            if c.get(1).copied() == Some(f64::from(pid)) {
                out.push((child, c));
            }
        }
    }
    Some(out)
}

/// CPU seconds the PostgreSQL server has used so far: the postmaster's own and its reaped
/// children's (`utime stime cutime cstime`), plus its live children's (backends, WAL writer,
/// checkpointer, …). `None` when the postmaster's pid cannot be read
/// (`DOCUSIGN_COLLECTOR_TEST_PGDATA` unset, or not allowed).
pub(crate) fn server_cpu_seconds() -> Option<f64> {
    let pid = postmaster_pid()?;
    let f = stat_fields(pid)?;
    let mut ticks: f64 = f.get(11..15)?.iter().sum();
    for (_, c) in children(pid)? {
        ticks += c.get(11).copied().unwrap_or(0.0) + c.get(12).copied().unwrap_or(0.0);
    }
    Some(ticks / 100.0)
}

/// CPU time of every thread of process `pid` ("self" for this one) so far, in seconds, from
/// `/proc/PID/task/*/schedstat` (nanoseconds, unlike the 10 ms ticks of `stat`). Threads that
/// have exited are not counted.
pub(crate) fn threads_cpu_seconds(pid: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| {
            std::fs::read_to_string(t.path().join("schedstat"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    ns as f64 / 1e9
}

/// CPU time of the PostgreSQL server's running processes (the postmaster and its children), in
/// seconds, from `schedstat`; for short measurements over connections that stay open. `None`
/// when the postmaster's pid cannot be read.
pub(crate) fn server_running_cpu_seconds() -> Option<f64> {
    let pid = postmaster_pid()?;
    let mut total = threads_cpu_seconds(&pid.to_string());
    for (child, _) in children(pid)? {
        total += threads_cpu_seconds(&child.to_string());
    }
    Some(total)
}

/// One `[[integrations]]` entry for the simulator: customer events every `interval`, the
/// limiter out of the way (the simulator is the only API here).
pub(crate) fn integration_toml(
    name: &str,
    integration_key: &str,
    key_file: &Path,
    sim: &docusign_sim::SimHandle,
    cfg: &docusign_sim::SimConfig,
    interval: &str,
) -> String {
    format!(
        "\n[[integrations]]\nname = \"{name}\"\nenvironment = \"developer\"\nintegration_key = \"{integration_key}\"\n\
         user_id = \"{user}\"\nprivate_key_file = \"{key}\"\naccount_id = \"{acc}\"\n\
         organization_id = \"{org}\"\nevent_types = [\"customer_events\"]\n\
         [integrations.customer_events]\ninterval = \"{interval}\"\nstart_from = \"1h\"\n\
         [integrations.rate_limit]\nper_hour = 1000000\nburst = 10000\n\
         [integrations.endpoints]\noauth = \"{base}\"\nmonitor = \"{base}\"\nadmin = \"{admin}\"\n",
        user = crate::common::USER_ID,
        key = key_file.display(),
        acc = cfg.account_id,
        org = cfg.organization_id,
        base = sim.base_url(),
        admin = sim.admin_url(),
    )
}

/// The configuration of replica `name` in `dir`: the shared database (the replica's name as
/// its `application_name`, so its sessions can be counted), `[cluster]` with `lease`, logs at
/// `warn`, a file sink of its own, then `integrations` (TOML).
pub(crate) fn replica_config(
    dir: &Path,
    name: &str,
    db: &str,
    lease: &str,
    integrations: &str,
) -> PathBuf {
    let text = format!(
        "state_url = \"{url}\"\nshutdown_timeout = \"30s\"\n\n\
         [cluster]\nreplica = \"{name}\"\nlease = \"{lease}\"\n\n[log]\nlevel = \"warn\"\n\n\
         [[sinks]]\ntype = \"file\"\npath = \"{events}\"\n{integrations}",
        url = with_param(db, &format!("application_name={name}")),
        events = dir.join(format!("{name}-events.jsonl")).display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write a replica's configuration");
    path
}

/// Start `run` with `config`; the password comes from `PGPASSWORD`, stderr is appended to `log`.
pub(crate) fn spawn_replica(config: &Path, log: &Path) -> tokio::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("a replica's log file");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("a replica starts")
}

/// SIGTERM a replica and wait for it (up to `limit`); how long it took to exit.
pub(crate) async fn stop_replica(
    child: &mut tokio::process::Child,
    limit: Duration,
) -> Option<Duration> {
    let t0 = std::time::Instant::now();
    crate::common::sigterm(child);
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(_) => Some(t0.elapsed()),
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            None
        }
    }
}

/// Integration → replica holding a live lease on it (expired and free leases left out), and
/// the sum of every lease's epoch (it grows by one with every claim).
pub(crate) fn live_holders(observer: &State) -> (HashMap<String, String>, i64) {
    let now = docusign_collector::support::clock::now_unix();
    let leases = observer
        .postgres()
        .expect("a PostgreSQL state")
        .leases(None)
        .unwrap_or_default();
    let epochs = leases.iter().map(|l| l.epoch).sum();
    let holders = leases
        .into_iter()
        .filter(|l| l.expires_at >= now)
        .filter_map(|l| Some((l.integration, l.holder?)))
        .collect();
    (holders, epochs)
}

/// Leases held per replica.
pub(crate) fn held_by(holders: &HashMap<String, String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for holder in holders.values() {
        *out.entry(holder.clone()).or_insert(0) += 1;
    }
    out
}

/// Every one of `integrations` is held by one of `replicas`, none above its fair share
/// (⌈integrations ÷ replicas⌉) and none below what is left when the others hold a full share
/// (10,000 over three: 3,334, 3,334 and 3,332).
pub(crate) fn balanced(
    holders: &HashMap<String, String>,
    integrations: usize,
    replicas: &[&str],
) -> bool {
    let share = integrations.div_ceil(replicas.len());
    let least = integrations.saturating_sub(share * (replicas.len() - 1));
    let by = held_by(holders);
    holders.len() == integrations
        && holders.values().all(|h| replicas.contains(&h.as_str()))
        && replicas
            .iter()
            .all(|r| by.get(*r).is_some_and(|&c| c >= least && c <= share))
}

/// A State on `db` for reading the leases and the run history (one connection, named
/// `bench-observer` so it is not counted among the replicas').
pub(crate) fn observer(db: &str) -> State {
    let settings = docusign_collector::state::postgres::PgSettings::new(
        &with_param(db, "application_name=bench-observer"),
        None,
        None,
        1,
    )
    .expect("PostgreSQL settings");
    State::open_postgres(&settings).expect("the benchmark's database")
}

/// The `p`-th percentile (nearest rank) of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// For each replica's log: how many lines (at `warn` or above), and the first line of each of
/// its first few kinds (the words after the timestamp).
pub(crate) fn log_summary(logs: &[(&str, PathBuf)]) {
    for (replica, path) in logs {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        println!("log of {replica}: {} lines at warn or above", lines.len());
        let mut kinds: Vec<String> = Vec::new();
        for line in &lines {
            let kind: String = line
                .split_whitespace()
                .skip(1)
                .take(6)
                .collect::<Vec<_>>()
                .join(" ");
            if kinds.len() < 4 && !kinds.contains(&kind) {
                kinds.push(kind);
                println!("    {}", line.chars().take(240).collect::<String>());
            }
        }
    }
}
