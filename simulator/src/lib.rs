//! Built-in Docusign simulator: an independent, loopback implementation of Docusign's side
//! (OAuth JWT Grant, userinfo, consent, Monitor stream, Admin users, eSignature users) with fault
//! and rate-limit knobs. It shares no request, parsing or cursor code with the collector's clients.
//!
//! One axum server serves everything on one address:
//! - `POST /oauth/token`, `GET /oauth/userinfo`, `GET /oauth/auth` (OAuth host);
//! - `GET /api/v2.0/datasets/monitor/stream` and `GET /v1/organizations/{org}/stream` (Monitor);
//! - `GET /management/v2/organizations/{org}/users` (Admin);
//! - `GET /restapi/v2.1/accounts/{account}/users/{user}` (eSignature);
//! - `/_sim/…` control endpoints (see [`control`]) for the standalone `simulate` command.
//!
//! Monitor cursors: an empty cursor means "seven days ago"; the answer's `endCursor` is then an opaque
//! cursor for the position reached (also when no event was returned). When no event follows the cursor
//! sent (opaque or ISO 8601 time), `endCursor` is the cursor sent, byte for byte.
//!
//! Rate-limit headers: without a configured [`RateLimit`], API responses still carry the headers, with a
//! limit of 1,000,000 per hour and a burst limit of 100,000 per 30 s, and nothing is ever refused.

mod admin;
mod control;
mod core;
mod data;
mod keys;
mod limits;
mod monitor;
mod oauth;
mod standalone;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_api;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use keys::generate_key_pair;
pub use standalone::{run_standalone, StandaloneOptions};

/// Every scope the simulator knows; `run_standalone` pre-grants them all.
pub const ALL_SCOPES: &[&str] = &[
    "signature",
    "impersonation",
    "organization_read",
    "user_read",
];

/// A client application registered with the simulator.
#[derive(Debug, Clone)]
pub struct SimClient {
    /// The integration key (JWT `iss`).
    pub integration_key: String,
    /// The impersonated user's id (JWT `sub`).
    pub user_id: String,
    /// PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) used to verify the RS256 assertion.
    pub public_key_pem: String,
    /// Scopes the user has consented to; a grant asking for more answers `consent_required`.
    pub consented_scopes: Vec<String>,
}

/// Simulator configuration. `SimConfig { clients, backlog_events: 1000, ..SimConfig::default() }`.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Registered client applications.
    pub clients: Vec<SimClient>,
    /// The organization id (Admin API, Monitor v1, events).
    pub organization_id: String,
    /// The account id (events, Admin `account_id`, eSignature); not the user's default account.
    pub account_id: String,
    /// Customer events generated at start, spread over the `backlog_span` before now.
    pub backlog_events: usize,
    /// Time span the backlog covers, ending now (default 24 h).
    pub backlog_span: Duration,
    /// Customer events appended per second while running (0 = none).
    pub live_events_per_sec: f64,
    /// Admin users at start (issue: audit users).
    pub users: usize,
    /// The last `esign_unknown_users` users created at start are unknown to eSignature (404).
    pub esign_unknown_users: usize,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// Seed for generated data.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            clients: Vec::new(),
            organization_id: "3b5c9a1e-7d24-4f6b-9a0e-5c1d2e3f4a01".to_string(),
            account_id: "8949bd2a-1c3e-4b5d-8f6a-7b8c9d0e1f02".to_string(),
            backlog_events: 0,
            backlog_span: Duration::from_secs(24 * 3600),
            live_events_per_sec: 0.0,
            users: 0,
            esign_unknown_users: 0,
            token_lifetime: Duration::from_secs(3600),
            seed: 42,
        }
    }
}

/// An account's API budget: `limit` calls per aligned `window`, and `burst_limit` per aligned `burst_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window (Docusign: 3000).
    pub limit: u32,
    /// Window length; windows are aligned to multiples of it since the Unix epoch (Docusign: 1 h).
    pub window: Duration,
    /// Calls allowed per burst window (Docusign: 200 developer, 500 production).
    pub burst_limit: u32,
    /// Burst window length, aligned the same way (Docusign: 30 s).
    pub burst_window: Duration,
}

/// Random faults on the data endpoints (Monitor, Admin, eSignature), drawn from a seeded generator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability (0..=1) that a data request fails with one of `error_statuses`.
    pub error_rate: f64,
    /// Statuses to fail with (default 500 when empty).
    pub error_statuses: Vec<u16>,
    /// Probability (0..=1) that a 200 answer's JSON body is cut in the middle.
    pub truncate_rate: f64,
    /// Added latency for every data request.
    pub delay: Duration,
}

/// Counters for assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimStats {
    /// Successful token grants.
    pub token_grants: u64,
    /// Token requests answered with an error.
    pub token_errors: u64,
    /// Requests per endpoint kind: `token`, `userinfo`, `auth`, `monitor`, `monitor_v1`,
    /// `admin_users`, `esign_user`, `control`, `not_found`.
    pub requests: BTreeMap<String, u64>,
    /// Responses by HTTP status (control endpoints excluded).
    pub statuses: BTreeMap<u16, u64>,
    /// 429 answers sent (rate limit or injected).
    pub rate_limited: u64,
    /// eSignature user requests.
    pub esign_requests: u64,
    /// The most eSignature requests in flight at once.
    pub esign_max_in_flight: u64,
    /// Events returned in 200 answers (Monitor v2 and v1), counting repeats.
    pub events_served: u64,
    /// Injected error answers (random or `fail_next`).
    pub faults_injected: u64,
    /// Truncated bodies sent.
    pub truncated: u64,
}

impl SimStats {
    /// Requests of one endpoint kind (0 when none).
    pub fn requests_of(&self, kind: &str) -> u64 {
        self.requests.get(kind).copied().unwrap_or(0)
    }
    /// Responses with one status (0 when none).
    pub fn status_count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    sim: Arc<core::Sim>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// Start the simulator on `listen` (use port 0 for any free port).
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let live = config.live_events_per_sec;
        let sim = Arc::new(core::Sim::new(config, format!("http://{addr}")));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(core::handle)
            .with_state(sim.clone());
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "simulator server stopped");
            }
        });
        let mut tasks = vec![server];
        if live > 0.0 && live.is_finite() {
            tasks.push(tokio::spawn(core::live_events(sim.clone(), live)));
        }
        Ok(SimHandle {
            sim,
            addr,
            stop: Some(tx),
            tasks,
        })
    }
    /// `http://127.0.0.1:PORT`: the OAuth, Monitor and eSignature base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `{base_url}/management`: the Admin API base URL.
    pub fn admin_url(&self) -> String {
        format!("{}/management", self.base_url())
    }
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The aud claim the OAuth endpoint expects (`127.0.0.1:PORT`; `localhost:PORT` works too).
    pub fn audience(&self) -> String {
        self.addr.to_string()
    }
    /// Append `n` new customer events (ingested now).
    pub fn append_events(&self, n: usize) {
        self.sim.append_events(n);
    }
    /// Number of customer events held (backlog plus appended).
    pub fn event_count(&self) -> usize {
        self.sim.event_count()
    }
    /// Every event id, in ingestion order (the order the stream serves them).
    pub fn event_ids(&self) -> Vec<String> {
        self.sim.event_ids()
    }
    /// Set `n` users' modification time to now (rotating through users); returns their ids.
    pub fn modify_users(&self, n: usize) -> Vec<String> {
        self.sim.modify_users(n)
    }
    /// Add `n` users created and modified now; returns their ids.
    pub fn add_users(&self, n: usize) -> Vec<String> {
        self.sim.add_users(n)
    }
    /// Number of Admin users.
    pub fn user_count(&self) -> usize {
        self.sim.user_count()
    }
    /// Every Admin user id, in the order the Admin API lists them.
    pub fn user_ids(&self) -> Vec<String> {
        self.sim.user_ids()
    }
    /// Ids of the users eSignature answers 404 for.
    pub fn esign_unknown_user_ids(&self) -> Vec<String> {
        self.sim.esign_unknown_user_ids()
    }
    /// Replace the consented scopes of a client (`integration_key`).
    pub fn set_consent(&self, integration_key: &str, scopes: &[&str]) {
        self.sim.set_consent(
            integration_key,
            scopes.iter().map(|s| s.to_string()).collect(),
        );
    }
    /// Every token issued so far answers 401 from now on.
    pub fn revoke_tokens(&self) {
        self.sim.revoke_tokens();
    }
    /// Set or clear the rate limit (counts every non-OAuth API call).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.sim.set_rate_limit(limit);
    }
    /// Set the random faults on data endpoints.
    pub fn set_faults(&self, faults: Faults) {
        self.sim.set_faults(faults);
    }
    /// The next `n` data requests fail with `status`.
    /// The next `n` data requests answer only after `delay` (slow answers, timeouts).
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.sim.delay_next(n, delay);
    }

    pub fn fail_next(&self, n: usize, status: u16) {
        self.sim.fail_next(n, status);
    }
    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.sim.stats()
    }
    /// Stop the server and the live-event task.
    pub fn shutdown(mut self) {
        self.stop_all();
    }
    fn stop_all(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_all();
    }
}
