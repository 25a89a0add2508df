//! Built-in Docusign simulator: an independent, loopback implementation of Docusign's side
//! (OAuth JWT Grant, userinfo, consent, Monitor stream, Admin users, eSignature users) with fault
//! and rate-limit knobs. It shares no request, parsing or cursor code with the collector's clients.
//!
//! One axum server serves everything on one address:
//! - `POST /oauth/token`, `GET /oauth/userinfo`, `GET /oauth/auth` (OAuth host);
//! - `GET /api/v2.0/datasets/monitor/stream` and `GET /v1/organizations/{org}/stream` (Monitor);
//! - `GET /management/v2/organizations/{org}/users` (Admin; `/Management/…`, the spec's base path, too);
//! - `GET /restapi/v2.1/accounts/{account}/users/{user}` and `GET /restapi/v2.1/accounts/{account}/users`
//!   (eSignature: one user, Users:list);
//! - `/_sim/…` control endpoints (see [`control`]) for the standalone `simulate` command.
//!
//! Answers follow Docusign's OpenAPI specifications and official SDK models (checked by
//! `simulator/sdk-conformance/run.sh`); [`knobs`] choose among the answers the specs allow.
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
mod esign;
mod events;
mod handle;
mod http;
mod keys;
pub mod knobs;
mod limits;
mod monitor;
mod oauth;
mod standalone;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_admin;
#[cfg(test)]
mod tests_api;
#[cfg(test)]
mod tests_esign;
#[cfg(test)]
mod tests_knobs;
mod users;

use std::collections::BTreeMap;
use std::time::Duration;

pub use handle::SimHandle;
pub use keys::generate_key_pair;
pub use knobs::{AdminNext, Api, EsignDateFormat};
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
    /// The last `esign_unknown_users` users created at start are unknown to eSignature: it answers
    /// `esign_unknown_status` with `USER_DOES_NOT_EXIST_IN_SYSTEM`, and Users:list leaves them out.
    pub esign_unknown_users: usize,
    /// Status for a user eSignature does not know: 400 (the spec, default) or 404 (behind some gateways).
    pub esign_unknown_status: u16,
    /// Seconds added to the true (UTC) modification time in eSignature's `modifiedDate`:
    /// `-8 * 3600` renders dates 8 hours behind UTC, `8 * 3600` ahead.
    pub esign_clock_offset: i64,
    /// The form of eSignature's `modifiedDate`.
    pub esign_date_format: EsignDateFormat,
    /// Users (spread over the listing) that Users:list leaves out though eSignature knows them singly.
    pub esign_list_omitted: usize,
    /// Users (spread over the listing, none of the omitted ones) that Users:list gives without
    /// `userSettings.modifiedDate`.
    pub esign_list_undated: usize,
    /// `paging.next` of Admin pages.
    pub admin_next: AdminNext,
    /// Draw a new Admin listing order before every Admin request (the same URL then holds other users).
    pub admin_shuffle_each_request: bool,
    /// The `base_uri` userinfo gives every account (`None`: the simulator's own URL). Any string,
    /// also one that is not a URL.
    pub base_uri: Option<String>,
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
            esign_unknown_status: 400,
            esign_clock_offset: 0,
            esign_date_format: EsignDateFormat::Us,
            esign_list_omitted: 0,
            esign_list_undated: 0,
            admin_next: AdminNext::Absolute,
            admin_shuffle_each_request: false,
            base_uri: None,
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
    /// `admin_users`, `esign_user`, `esign_list`, `control`, `not_found`.
    pub requests: BTreeMap<String, u64>,
    /// Responses by HTTP status (control endpoints excluded).
    pub statuses: BTreeMap<u16, u64>,
    /// 429 answers sent (rate limit or injected).
    pub rate_limited: u64,
    /// eSignature single-user requests (`GET …/users/{user}`).
    pub esign_requests: u64,
    /// eSignature Users:list requests (`GET …/users`), not counted in `esign_requests`.
    pub esign_list: u64,
    /// The most eSignature requests in flight at once.
    pub esign_max_in_flight: u64,
    /// Events returned in 200 answers (Monitor v2 and v1), counting repeats.
    pub events_served: u64,
    /// Injected error answers (random, `fail_next` or `fail_next_on`).
    pub faults_injected: u64,
    /// 200 answers whose body was replaced by `garble_next`.
    pub garbled: u64,
    /// Truncated bodies sent.
    pub truncated: u64,
    /// `last_modified_since` of every Admin users request that gave one, in order.
    pub admin_since: Vec<String>,
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
