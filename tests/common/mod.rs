//! End-to-end test harness: the built-in simulator in the test process, the collector binary
//! as a child process, a temporary directory for its configuration, key, state and output.
#![allow(dead_code)]

pub mod api;
pub mod pg;
pub mod receiver;

use docusign_sim::{SimClient, SimConfig, SimHandle};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

pub const INTEGRATION_KEY: &str = "11111111-test-4000-8000-000000000001";
pub const USER_ID: &str = "22222222-test-4000-8000-000000000002";
pub const ALL_SCOPES: [&str; 4] = [
    "signature",
    "impersonation",
    "organization_read",
    "user_read",
];

/// One RSA key pair for the whole test binary (generation takes a moment).
pub fn key_pair() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| docusign_sim::generate_key_pair().expect("key generation"))
}

pub fn client(scopes: &[&str]) -> SimClient {
    SimClient {
        integration_key: INTEGRATION_KEY.into(),
        user_id: USER_ID.into(),
        public_key_pem: key_pair().1.clone(),
        consented_scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

/// A default simulator configuration with the test client registered.
pub fn sim_config(backlog: usize) -> SimConfig {
    SimConfig {
        clients: vec![client(&ALL_SCOPES)],
        backlog_events: backlog,
        ..SimConfig::default()
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
    pub sim_config: SimConfig,
    /// Extra TOML appended to the `[[integrations]]` table (before sub-tables).
    pub integration_extra: String,
    /// Extra TOML for `[integrations.customer_events]`.
    pub customer_events: String,
    /// Extra TOML for `[integrations.audit_users]`.
    pub audit_users: String,
    /// TOML for `[integrations.rate_limit]` (default: out of the way).
    pub rate_limit: String,
    /// Extra TOML at the end (e.g. more sinks).
    pub extra: String,
    /// Top-level keys (before any table).
    pub top: String,
    /// Whether the configuration has the file sink at `events_path()`.
    pub file_sink: bool,
}

impl Env {
    pub async fn start(sim_config: SimConfig) -> Env {
        let sim = SimHandle::start(sim_config.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .expect("simulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("key.pem"), &key_pair().0).expect("write key");
        Env {
            dir,
            sim,
            sim_config,
            integration_extra: String::new(),
            customer_events: "page_size = 2000\nstart_from = \"30d\"\n".into(),
            audit_users: "start_from = \"3650d\"\n".into(),
            rate_limit: "per_hour = 1000000\nburst = 10000\n".into(),
            extra: String::new(),
            top: String::new(),
            file_sink: true,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn events_path(&self) -> PathBuf {
        self.path("events.jsonl")
    }

    pub fn state_path(&self) -> PathBuf {
        self.path("state.db")
    }

    /// Write the configuration and return its path.
    pub fn write_config(&self) -> PathBuf {
        let base = self.sim.base_url();
        let text = format!(
            r#"state_path = "{state}"
{top}

[log]
level = "info"

[[integrations]]
name = "acme"
environment = "developer"
integration_key = "{ik}"
user_id = "{uid}"
private_key_file = "{key}"
account_id = "{acc}"
organization_id = "{org}"
{integration_extra}

[integrations.customer_events]
interval = "1s"
{ce}

[integrations.audit_users]
interval = "1s"
{au}

[integrations.rate_limit]
{rl}

[integrations.endpoints]
oauth = "{base}"
monitor = "{base}"
admin = "{admin}"

{file_sink}

{extra}
"#,
            state = self.state_path().display(),
            top = self.top,
            ik = INTEGRATION_KEY,
            uid = USER_ID,
            key = self.path("key.pem").display(),
            acc = self.sim_config.account_id,
            org = self.sim_config.organization_id,
            integration_extra = self.integration_extra,
            ce = self.customer_events,
            au = self.audit_users,
            rl = self.rate_limit,
            admin = self.sim.admin_url(),
            file_sink = if self.file_sink {
                format!(
                    "[[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
                    self.events_path().display()
                )
            } else {
                String::new()
            },
            extra = self.extra,
        );
        let path = self.path("config.toml");
        // Written beside and renamed over, so a collector reading the file while a later
        // command rewrites it (a daemon starting while `healthcheck` polls) never reads it
        // half-written or empty.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.path(&format!("config.toml.{n}.tmp"));
        std::fs::write(&tmp, text).expect("write config");
        std::fs::rename(&tmp, &path).expect("rename config");
        path
    }

    /// Run the collector binary with `args` (after `--config`), with extra environment.
    pub async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let config = self.write_config();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"));
        cmd.arg("--config").arg(&config).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env_remove("DOCUSIGN_COLLECTOR_FAULT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.kill_on_drop(true);
        tokio::time::timeout(std::time::Duration::from_secs(180), cmd.output())
            .await
            .expect("collector finished within 180 s")
            .expect("collector ran")
    }

    /// Run `once` with the fault injection `fault` (`point:n`, see `support::fault`): the
    /// process must abort there.
    pub async fn once_aborting_at(&self, fault: &str) {
        let out = self
            .run(&["once"], &[("DOCUSIGN_COLLECTOR_FAULT", fault)])
            .await;
        assert!(
            !out.status.success(),
            "the fault {fault} aborted the process"
        );
    }

    pub fn events(&self) -> Vec<Value> {
        read_jsonl(&self.events_path())
    }
}

/// How many complete (newline-terminated) lines a file has: safe to poll while the collector
/// writes, unlike `read_jsonl`, which would see a half-written last line.
pub fn complete_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// Every line of a JSONL file, parsed; panics on a line that is not JSON.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => return Vec::new(),
    };
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {l:.200}", i + 1))
        })
        .collect()
}

/// The `eventId`s of `events`, asserting each has one.
pub fn event_ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["eventId"]
                .as_str()
                .unwrap_or_else(|| panic!("no eventId in {e}"))
                .to_string()
        })
        .collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_success(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr:\n{}",
        o.status,
        stderr(o)
    );
}

/// Page through the simulator's Monitor stream with a minimal client of the test's own (not the
/// collector's), from `since` (ISO time), and return every page's body as Docusign sent it.
pub async fn fetch_raw_pages(env: &Env, since: &str) -> Vec<bytes::Bytes> {
    let base = env.sim.base_url();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let aud = base.trim_start_matches("http://").to_string();
    let claims = serde_json::json!({
        "iss": INTEGRATION_KEY, "sub": USER_ID, "aud": aud, "iat": now, "exp": now + 3000,
        "scope": "signature impersonation",
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pair().0.as_bytes()).unwrap();
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap();
    let http = reqwest::Client::new();
    let tok: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &jwt),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().expect("token").to_string();
    let mut cursor = since.to_string();
    let mut pages = Vec::new();
    loop {
        let body = http
            .get(format!("{base}/api/v2.0/datasets/monitor/stream"))
            .query(&[("cursor", cursor.as_str()), ("limit", "2000")])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Value = serde_json::from_slice(&body).expect("a JSON page");
        let end = page["endCursor"].as_str().expect("endCursor").to_string();
        pages.push(body);
        if end == cursor {
            return pages;
        }
        cursor = end;
    }
}

/// Every event of the simulator's Monitor stream from `since`, as Docusign sent it.
pub async fn fetch_all_raw(env: &Env, since: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for body in fetch_raw_pages(env, since).await {
        let page: Value = serde_json::from_slice(&body).expect("a JSON page");
        all.extend(page["data"].as_array().cloned().unwrap_or_default());
    }
    all
}

/// How many ids occur more than once (counting each extra occurrence).
pub fn duplicates(ids: &[String]) -> usize {
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    ids.len() - unique.len()
}

impl Env {
    /// Start the collector with `args` as a child process (stdout and stderr discarded).
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        let config = self.write_config();
        tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("collector starts")
    }
}

/// A TCP port free on the loopback interface (for the collector's API).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Poll `cond` every 50 ms for up to `secs` seconds; true once it holds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cond()
}

impl Env {
    /// The `[api]` table for a local API on `port` with the bearer token `t0k` (written to a
    /// file), the simulator's origin in `allowed_endpoints`, and with `seal` a seal key file too.
    pub fn api_table(&self, port: u16, seal: bool) -> String {
        let token_file = self.path("api-token");
        std::fs::write(&token_file, "t0k\n").expect("write the API token");
        // Integrations created through the API may use the simulator's endpoints (it is not
        // Docusign's): its origin, that of base_url() and admin_url().
        let mut t = format!(
            "[api]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\nallowed_endpoints = [\"{}\"]\n",
            token_file.display(),
            self.sim.base_url()
        );
        if seal {
            let key = self.path("seal.key");
            std::fs::write(&key, format!("{}\n", "5a".repeat(32))).expect("write the seal key");
            t.push_str(&format!("seal_key_file = \"{}\"\n", key.display()));
        }
        t
    }
}

/// Wait (10 s at most) until the collector's local API at `base` answers `/healthz`.
pub async fn wait_for_api(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("API did not come up");
}

/// Send SIGTERM to a child process.
pub fn sigterm(child: &tokio::process::Child) {
    send_signal(child, "TERM");
}

/// Send the signal `name` ("TERM", "HUP") to a child process.
pub fn send_signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("child is running").to_string();
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "SIG{name} delivered");
}

/// SIGTERM a child and wait for it (20 s at most); returns its status and how long it took.
pub async fn terminate(
    child: &mut tokio::process::Child,
) -> (std::process::ExitStatus, std::time::Duration) {
    let t0 = std::time::Instant::now();
    sigterm(child);
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("exits within 20 s of SIGTERM")
        .expect("wait for the child");
    (status, t0.elapsed())
}

/// The access token the collector cached for `acme` (read through the state API).
pub fn cached_token(env: &Env) -> String {
    docusign_collector::state::State::open(&env.state_path())
        .expect("state database")
        .token("acme")
        .expect("token query")
        .expect("a cached token")
        .access_token
        .expose()
        .to_string()
}

/// A simulator with `n` audit users (and no Monitor backlog).
pub fn users(n: usize) -> SimConfig {
    SimConfig {
        users: n,
        ..sim_config(0)
    }
}

/// An environment collecting audit users only, from ten years back, with `au` added to
/// `[integrations.audit_users]`.
pub async fn audit_env(cfg: SimConfig, au: &str) -> Env {
    let mut env = Env::start(cfg).await;
    env.integration_extra = "event_types = [\"audit_users\"]".into();
    env.audit_users = format!("start_from = \"3650d\"\n{au}");
    env
}

/// The Admin `id` of every audit-user record, asserting each has one.
pub fn user_ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no id: {e}"))
                .to_string()
        })
        .collect()
}

/// The `data` of a `POST /integrations` for a customer-events integration on the simulator.
pub fn api_integration_data(env: &Env) -> Value {
    serde_json::json!({
        "environment": "stage", "changeKeys": false,
        "integrationKey": INTEGRATION_KEY, "userId": USER_ID, "privateKey": key_pair().0,
        "accountId": env.sim_config.account_id, "organizationId": env.sim_config.organization_id,
        "eventTypes": ["customer_events"],
        "customerEvents": {"interval": "1s", "startFrom": "30d"},
        "rateLimit": {"perHour": 1000000, "burst": 10000},
        "endpoints": {"oauth": env.sim.base_url(), "monitor": env.sim.base_url(), "admin": env.sim.admin_url()},
    })
}
