//! Replicas that share PostgreSQL, end to end: collector processes on one simulator account,
//! each integration delivering to an in-test HTTP receiver, the leases read from the database.
//!
//! These need a PostgreSQL server: they are ignored in a plain `cargo test`; `scripts/test`
//! starts a throwaway cluster and runs them (`eval "$(scripts/pg-cluster start target/pg)"`,
//! then `cargo test --test replicas -- --ignored`).

mod common;

use common::receiver::Receiver;
use common::{key_pair, pg, sim_config, Env, INTEGRATION_KEY, USER_ID};
use docusign_collector::state::postgres::leases::LeaseView;
use docusign_collector::state::postgres::PgSettings;
use docusign_collector::state::State;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::process::Child;

/// The lease of every replica in these tests (short, so takeovers happen in seconds).
const LEASE_SECS: u64 = 3;
const PAGE_SIZE: usize = 50;

/// A cluster under test: the simulator, the receiver, the database and the replica processes.
struct Cluster {
    env: std::sync::Arc<Env>,
    receiver: Receiver,
    ingest: String,
    db: String,
    state: State,
    integrations: usize,
    replicas: BTreeMap<String, Child>,
    /// Replicas that serve the local API, and on which port.
    api: HashMap<String, u16>,
}

impl Cluster {
    async fn start(test: &str, integrations: usize, backlog: usize) -> Cluster {
        let server = pg::require();
        let db = server.fresh_database(test);
        let env = std::sync::Arc::new(Env::start(sim_config(backlog)).await);
        let receiver = Receiver::default();
        let ingest = receiver.start().await;
        let state = State::open_postgres(&PgSettings::new(&db, None, None, 1).unwrap()).unwrap();
        Cluster {
            env,
            receiver,
            ingest,
            db,
            state,
            integrations,
            replicas: BTreeMap::new(),
            api: HashMap::new(),
        }
    }

    fn names(&self) -> Vec<String> {
        (0..self.integrations)
            .map(|i| format!("acct-{i:02}"))
            .collect()
    }

    /// The configuration of replica `name`.
    fn config(&self, name: &str) -> std::path::PathBuf {
        let base = self.env.sim.base_url();
        let mut text = format!(
            "state_url = \"{db}\"\nshutdown_timeout = \"20s\"\n\n[cluster]\nreplica = \"{name}\"\nlease = \"{LEASE_SECS}s\"\n\n[log]\nlevel = \"info\"\n\n[[sinks]]\ntype = \"http\"\nurl = \"{ingest}\"\ngzip = true\nbatch_max_events = 500\n",
            db = self.db,
            ingest = self.ingest
        );
        for integ in self.names() {
            text.push_str(&format!(
                r#"
[[integrations]]
name = "{integ}"
environment = "developer"
integration_key = "{INTEGRATION_KEY}"
user_id = "{USER_ID}"
private_key_file = "{key}"
account_id = "{acc}"
event_types = ["customer_events"]

[integrations.customer_events]
interval = "1s"
page_size = {PAGE_SIZE}
start_from = "30d"

[integrations.rate_limit]
per_hour = 1000000
burst = 10000

[integrations.endpoints]
oauth = "{base}"
monitor = "{base}"
admin = "{admin}"
"#,
                key = self.env.path("key.pem").display(),
                acc = self.env.sim_config.account_id,
                admin = self.env.sim.admin_url(),
            ));
        }
        if let Some(port) = self.api.get(name) {
            text.push('\n');
            text.push_str(&self.env.api_table(*port, true));
        }
        let path = self.env.path(&format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn spawn(&mut self, name: &str) {
        let config = self.config(name);
        let log = std::fs::File::create(self.env.path(&format!("{name}.log"))).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env(
                "PGPASSWORD",
                std::env::var("PGPASSWORD").unwrap_or_default(),
            )
            .env(
                "DOCUSIGN_COLLECTOR__LOG__LEVEL",
                "info,docusign_collector::cluster=debug",
            )
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("collector starts");
        self.replicas.insert(name.to_string(), child);
    }

    fn signal(&self, name: &str, signal: &str) {
        let pid = self.replicas[name].id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "SIG{signal} to {name}");
    }

    async fn kill(&mut self, name: &str) {
        self.signal(name, "KILL");
        let mut child = self.replicas.remove(name).unwrap();
        let _ = child.wait().await;
    }

    /// SIGTERM `name` and wait for it to exit.
    async fn stop(&mut self, name: &str) {
        self.signal(name, "TERM");
        let mut child = self.replicas.remove(name).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(40), child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap();
        assert!(status.success(), "{name} exited with {status}");
    }

    /// Run the collector once with replica `name`'s configuration and `args`; panics (with its
    /// stderr) unless it exits 0.
    fn command(&self, name: &str, args: &[&str]) -> std::process::Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
            .arg("--config")
            .arg(self.config(name))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// SIGTERM every running replica and wait for each.
    async fn stop_all(&mut self) {
        let names: Vec<String> = self.replicas.keys().cloned().collect();
        for name in names {
            self.stop(&name).await;
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.env.path(&format!("{name}.log"))).unwrap_or_default()
    }

    /// How often each replica logged the things that cause duplicates.
    fn incidents(&self) -> String {
        let mut out = String::new();
        for name in ["r1", "r2", "r3"] {
            let log = self.log(name);
            let count = |what: &str| log.lines().filter(|l| l.contains(what)).count();
            out.push_str(&format!(
                "{name}: {} taken, {} took over, {} lost, {} refused, {} sink retries, {} released; ",
                count("lease taken"),
                count("took over"),
                count("lease lost"),
                count("write refused"),
                count("retrying"),
                count("given back"),
            ));
        }
        out
    }

    /// The last lines of every replica's log, for a failure message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["r1", "r2", "r3"] {
            let log = self.log(name);
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            out.push_str(&format!("--- {name}\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    fn leases(&self) -> Vec<LeaseView> {
        self.state
            .postgres()
            .unwrap()
            .leases(None)
            .unwrap_or_default()
    }

    /// Integration → live holder (expired leases left out).
    fn holders(&self) -> HashMap<String, String> {
        let now = docusign_collector::support::clock::now_unix();
        self.leases()
            .into_iter()
            .filter(|l| l.expires_at >= now)
            .filter_map(|l| Some((l.integration, l.holder?)))
            .collect()
    }

    /// Leases held per replica.
    fn held_by(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for holder in self.holders().into_values() {
            *out.entry(holder).or_insert(0) += 1;
        }
        out
    }

    /// Event ids delivered per integration (with repeats).
    fn delivered(&self) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for e in self.receiver.events() {
            let integ = e["_integration"].as_str().unwrap_or("").to_string();
            let id = e["eventId"].as_str().unwrap_or("").to_string();
            out.entry(integ).or_default().push(id);
        }
        out
    }

    /// Wait (up to `secs`) until every integration has delivered every event the simulator holds.
    async fn wait_complete(&self, secs: u64) -> bool {
        let want: HashSet<String> = self.env.sim.event_ids().into_iter().collect();
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.delivered();
            let complete = self.names().iter().all(|n| {
                got.get(n)
                    .is_some_and(|ids| ids.iter().collect::<HashSet<_>>().len() >= want.len())
            });
            if complete || Instant::now() > deadline {
                return complete;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Per integration: every simulator event delivered (panics naming what is missing), and
    /// the duplicates; returns integration → duplicates.
    fn check_delivery(&self) -> BTreeMap<String, usize> {
        let want: HashSet<String> = self.env.sim.event_ids().into_iter().collect();
        let got = self.delivered();
        let mut dups = BTreeMap::new();
        for n in self.names() {
            let ids = got.get(&n).cloned().unwrap_or_default();
            let unique: HashSet<&String> = ids.iter().collect();
            let missing = want.iter().filter(|w| !unique.contains(w)).count();
            assert_eq!(missing, 0, "{n}: {missing} events never delivered");
            dups.insert(n, ids.len() - unique.len());
        }
        dups
    }

    /// Wait until every integration is held by one of `replicas`, each holding its fair share
    /// (±1); returns how long it took.
    async fn wait_balanced(&self, replicas: &[&str], secs: u64) -> Option<Duration> {
        let t0 = Instant::now();
        let share = self.integrations.div_ceil(replicas.len());
        while t0.elapsed() < Duration::from_secs(secs) {
            let holders = self.holders();
            let by = self.held_by();
            let all_held = self.names().iter().all(|n| {
                holders
                    .get(n)
                    .is_some_and(|h| replicas.contains(&h.as_str()))
            });
            let fair = replicas
                .iter()
                .all(|r| by.get(*r).is_some_and(|&c| c + 1 >= share && c <= share));
            if all_held && fair {
                return Some(t0.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// Add `n` events to the simulator every 200 ms until the returned guard drops.
    fn live_events(&self, n: usize) -> tokio::task::JoinHandle<()> {
        let env = self.env.clone();
        tokio::spawn(async move {
            loop {
                env.sim.append_events(n);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    }
}

/// Watches the cursors table: no stream's cursor ever returns to a value it had left.
struct CursorWatch {
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CursorWatch {
    fn start(db: &str) -> CursorWatch {
        let state = State::open_postgres(&PgSettings::new(db, None, None, 1).unwrap()).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out = seen.clone();
        let task = tokio::spawn(async move {
            let mut history: HashMap<String, Vec<String>> = HashMap::new();
            loop {
                let st = state.clone();
                let streams = tokio::task::spawn_blocking(move || st.streams(None))
                    .await
                    .unwrap();
                if let Ok(streams) = streams {
                    for s in streams {
                        let Some(c) = s.cursor else { continue };
                        let h = history.entry(s.integration.clone()).or_default();
                        if h.last() != Some(&c) {
                            if h.contains(&c) {
                                out.lock()
                                    .unwrap()
                                    .push(format!("{}: cursor went back to {c}", s.integration));
                            }
                            h.push(c);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        CursorWatch { seen, task }
    }

    fn backwards(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for CursorWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
async fn three_replicas_share_thirty_integrations_and_take_over_from_a_killed_one() {
    let _ = key_pair();
    let mut c = Cluster::start("kill", 30, 500).await;
    for r in ["r1", "r2", "r3"] {
        c.spawn(r);
    }
    let live = c.live_events(2);
    assert!(
        c.wait_balanced(&["r1", "r2", "r3"], 60).await.is_some(),
        "three replicas share thirty integrations: {:?}\n{}",
        c.held_by(),
        c.log("r1")
    );
    assert!(c.wait_complete(90).await, "the backlog is delivered");
    // Exactly one holder per integration, every one held.
    let holders = c.holders();
    assert_eq!(holders.len(), 30);
    let of_r1: Vec<String> = holders
        .iter()
        .filter(|(_, h)| h.as_str() == "r1")
        .map(|(i, _)| i.clone())
        .collect();
    assert!(!of_r1.is_empty());

    c.kill("r1").await;
    let killed = Instant::now();
    let took = c.wait_balanced(&["r2", "r3"], 60).await;
    let took =
        took.unwrap_or_else(|| panic!("r1's integrations are taken over: {:?}", c.held_by()));
    let bound = Duration::from_secs(LEASE_SECS) + Duration::from_secs(LEASE_SECS) / 3;
    eprintln!(
        "takeover after SIGKILL: {:?} after the kill (lease {LEASE_SECS}s + interval {:?} = {bound:?}; {} integrations)",
        killed.elapsed().min(took),
        Duration::from_secs(LEASE_SECS) / 3,
        of_r1.len()
    );
    assert!(
        took <= bound + Duration::from_secs(3),
        "taken over within lease + interval (+3 s for the check): {took:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    live.abort();
    assert!(
        c.wait_complete(90).await,
        "every event delivered after the takeover"
    );
    let dups = c.check_delivery();
    // A page in flight at the kill may come twice; elsewhere a lease can also change hands when
    // a starved replica misses a renewal on this busy machine: still at most a page each.
    for (integ, d) in &dups {
        assert!(
            *d <= PAGE_SIZE,
            "{integ}: {d} duplicates (bound {PAGE_SIZE})"
        );
    }
    eprintln!("{}", c.incidents());
    // The token cache is shared: a takeover (or a rebalance) reuses the holder's valid token, and
    // no two replicas grant for one integration, so each integration was granted exactly once.
    assert_eq!(
        c.env.sim.stats().token_grants,
        30,
        "one grant per integration across kills and rebalancing"
    );
    eprintln!(
        "duplicates: {} in {} taken-over integrations, {} elsewhere",
        dups.iter()
            .filter(|(i, _)| of_r1.contains(i))
            .map(|(_, d)| d)
            .sum::<usize>(),
        of_r1.len(),
        dups.iter()
            .filter(|(i, _)| !of_r1.contains(i))
            .map(|(_, d)| d)
            .sum::<usize>()
    );
    let takeovers = c.log("r2") + &c.log("r3");
    assert!(takeovers.contains("took over"), "the takeovers are logged");
    // `state` shows who holds each integration and until when.
    let out = c.command("r2", &["state", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = shown.as_array().unwrap();
    assert_eq!(entries.len(), 30);
    for e in entries {
        let holder = e["lease"]["holder"].as_str().unwrap_or("");
        assert!(holder == "r2" || holder == "r3", "{e}");
        assert!(e["lease"]["until"].is_string(), "{e}");
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains("PGPASSWORD"));
    c.stop_all().await;
    assert!(
        c.holders().is_empty(),
        "a stopped replica releases its leases"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
async fn a_replica_frozen_past_its_lease_is_fenced_and_nothing_goes_backwards() {
    let _ = key_pair();
    let mut c = Cluster::start("freeze", 6, 300).await;
    let watch = CursorWatch::start(&c.db);
    c.spawn("r1");
    c.spawn("r2");
    let live = c.live_events(3);
    assert!(
        c.wait_balanced(&["r1", "r2"], 60).await.is_some(),
        "{:?}",
        c.held_by()
    );
    assert!(c.wait_complete(60).await);
    c.signal("r1", "STOP");
    assert!(
        c.wait_balanced(&["r2"], 30).await.is_some(),
        "r2 takes over while r1 is frozen: {:?}",
        c.held_by()
    );
    // r1 wakes up with pages in flight under leases it no longer has.
    c.signal("r1", "CONT");
    tokio::time::sleep(Duration::from_secs(2 * LEASE_SECS)).await;
    live.abort();
    assert!(
        c.wait_balanced(&["r1", "r2"], 60).await.is_some(),
        "r1 takes its share again"
    );
    assert!(c.wait_complete(90).await, "nothing lost");
    let dups = c.check_delivery();
    let total: usize = dups.values().sum();
    assert!(
        total <= 2 * PAGE_SIZE * 6,
        "at most the pages in flight at the freeze and the wake-up doubled: {dups:?}"
    );
    let log = c.log("r1");
    assert!(
        log.contains("lease lost") || log.contains("write refused"),
        "r1 noticed it lost its leases:\n{log}"
    );
    assert!(watch.backwards().is_empty(), "{:?}", watch.backwards());
    eprintln!("freeze: duplicates {dups:?}");
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
async fn a_late_replica_takes_its_share_and_a_rolling_restart_loses_nothing() {
    let _ = key_pair();
    let mut c = Cluster::start("rolling", 12, 300).await;
    c.spawn("r1");
    c.spawn("r2");
    let live = c.live_events(2);
    assert!(
        c.wait_balanced(&["r1", "r2"], 60).await.is_some(),
        "{:?}",
        c.held_by()
    );
    c.spawn("r3");
    let joined = c.wait_balanced(&["r1", "r2", "r3"], 30).await;
    let joined = joined.unwrap_or_else(|| panic!("r3 gets its share: {:?}", c.held_by()));
    assert!(
        joined <= Duration::from_secs(LEASE_SECS) + Duration::from_secs(3),
        "a joining replica gets work within one lease period: {joined:?}"
    );
    eprintln!("late joiner got its share in {joined:?}");
    for r in ["r1", "r2", "r3"] {
        c.stop(r).await;
        c.spawn(r);
        assert!(
            c.wait_balanced(&["r1", "r2", "r3"], 60).await.is_some(),
            "balanced again after restarting {r}: {:?}",
            c.held_by()
        );
    }
    live.abort();
    assert!(
        c.wait_complete(90).await,
        "nothing lost across the rolling restart"
    );
    let dups = c.check_delivery();
    let total: usize = dups.values().sum();
    eprintln!("rolling restart: {total} duplicates");
    assert!(
        dups.values().all(|d| *d <= PAGE_SIZE),
        "at most a page per integration doubled: {dups:?}"
    );
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
async fn a_database_restart_pauses_collection_and_loses_nothing() {
    let _ = key_pair();
    let server = pg::require();
    let mut c = Cluster::start("restart", 6, 300).await;
    let port = common::free_port();
    c.api.insert("r1".into(), port);
    c.spawn("r1");
    c.spawn("r2");
    let live = c.live_events(2);
    assert!(
        c.wait_balanced(&["r1", "r2"], 60).await.is_some(),
        "{:?}",
        c.held_by()
    );
    let http = reqwest::Client::new();
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let ready = |http: reqwest::Client, url: String| async move {
        http.get(url)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready(http.clone(), readyz.clone()).await, 200);
    server.stop();
    let mut seen = Vec::new();
    for _ in 0..(2 * LEASE_SECS * 5) {
        seen.push(ready(http.clone(), readyz.clone()).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen.contains(&503) && !seen.contains(&200),
        "not ready while the database is away: {seen:?}"
    );
    server.start();
    assert!(
        c.wait_balanced(&["r1", "r2"], 60).await.is_some(),
        "both replicas hold their share again: {:?}\n{}",
        c.held_by(),
        c.logs()
    );
    let mut again = false;
    for _ in 0..50 {
        if ready(http.clone(), readyz.clone()).await == 200 {
            again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(again, "ready again once the database is back");
    live.abort();
    assert!(c.wait_complete(90).await, "collection resumed");
    let dups = c.check_delivery();
    eprintln!("database restart: duplicates {dups:?}");
    assert!(
        dups.values().all(|d| *d <= PAGE_SIZE),
        "at most a page per integration doubled: {dups:?}"
    );
    let log = c.log("r1");
    assert!(
        log.contains("cannot reach the state database"),
        "the outage is logged:\n{log}"
    );
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
async fn an_integration_created_or_deleted_through_one_replica_takes_effect_where_it_is_held() {
    let _ = key_pair();
    let mut c = Cluster::start("api", 4, 200).await;
    let (p1, p2) = (common::free_port(), common::free_port());
    c.api.insert("r1".into(), p1);
    c.api.insert("r2".into(), p2);
    c.spawn("r1");
    c.spawn("r2");
    assert!(
        c.wait_balanced(&["r1", "r2"], 60).await.is_some(),
        "{:?}",
        c.held_by()
    );
    let http = reqwest::Client::new();
    let base = |p: u16| format!("http://127.0.0.1:{p}");
    common::wait_for_api(&http, &base(p1)).await;
    let created = http
        .post(format!("{}/integrations", base(p1)))
        .bearer_auth("t0k")
        .json(&serde_json::json!({"integration": 8, "name": "api-1", "data": common::api_integration_data(&c.env)}))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );
    // Collected by whichever replica claims it, and seen (with its holder) by both.
    let want = c.env.sim.event_ids().len();
    let delivered = |c: &Cluster| {
        c.delivered()
            .get("api-1")
            .map_or(0, |ids| ids.iter().collect::<HashSet<_>>().len())
    };
    assert!(
        common::eventually(60, || delivered(&c) >= want).await,
        "the API-created integration is collected: {} of {want}\n{}",
        delivered(&c),
        c.logs()
    );
    let holder = c.holders().get("api-1").cloned().expect("api-1 is held");
    let other = if holder == "r1" { p2 } else { p1 };
    let seen: serde_json::Value = http
        .get(format!("{}/integrations/api-1", base(other)))
        .bearer_auth("t0k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen["lease"]["holder"].as_str(),
        Some(holder.as_str()),
        "{seen}"
    );
    // Deleted through the replica that does not hold it: the holder stops collecting it.
    let gone = http
        .delete(format!("{}/integrations/api-1", base(other)))
        .bearer_auth("t0k")
        .send()
        .await
        .unwrap();
    assert!(gone.status().is_success());
    assert!(
        common::eventually(20, || !c.holders().contains_key("api-1")).await,
        "the holder gives the deleted integration's lease up: {:?}",
        c.holders()
    );
    let after = c.delivered().get("api-1").map_or(0, Vec::len);
    let live = c.live_events(5);
    tokio::time::sleep(Duration::from_secs(3)).await;
    live.abort();
    assert!(c.wait_complete(60).await, "the file integrations go on");
    assert_eq!(
        c.delivered().get("api-1").map_or(0, Vec::len),
        after,
        "nothing is collected for a deleted integration"
    );
    // `once` beside live replicas collects nothing they hold; once they are gone, everything.
    let before = c.receiver.events().len();
    let out = c.command("r1", &["once"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("another replica holds it"));
    assert_eq!(c.receiver.events().len(), before, "once took nothing held");
    c.stop_all().await;
    c.env.sim.append_events(20);
    c.command("r1", &["once"]);
    assert!(c.wait_complete(10).await, "once collected what nobody held");
    assert!(c.holders().is_empty(), "once released what it took");
}
