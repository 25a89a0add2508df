//! Built-in Docusign simulator: an independent, loopback implementation of Docusign's side
//! (OAuth JWT Grant, userinfo, Monitor stream, Admin users, eSignature users) with fault knobs.
//! It shares no request, parsing or cursor code with the collector's clients.
//! SKELETON: implemented by the simulator work.

use std::net::SocketAddr;
use std::time::Duration;

/// A client application registered with the simulator.
#[derive(Debug, Clone)]
pub struct SimClient {
    pub integration_key: String,
    pub user_id: String,
    /// PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) used to verify the RS256 assertion.
    pub public_key_pem: String,
    /// Scopes the user has consented to; a grant asking for more answers `consent_required`.
    pub consented_scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub clients: Vec<SimClient>,
    pub organization_id: String,
    pub account_id: String,
    /// Customer events generated at start, spread over the `backlog_span` before now.
    pub backlog_events: usize,
    pub backlog_span: Duration,
    /// Customer events appended per second while running (0 = none).
    pub live_events_per_sec: f64,
    /// Admin users at start (issue: audit users).
    pub users: usize,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// Seed for generated data.
    pub seed: u64,
}

/// A running simulator.
pub struct SimHandle {
    _private: (),
}

impl SimHandle {
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
        let _ = (config, listen);
        todo!()
    }
    /// `http://127.0.0.1:PORT`: the OAuth, Monitor and eSignature base URL.
    pub fn base_url(&self) -> String {
        todo!()
    }
    /// `{base_url}/management`: the Admin API base URL.
    pub fn admin_url(&self) -> String {
        todo!()
    }
    /// Append `n` new customer events (ingested now).
    pub fn append_events(&self, n: usize) {
        let _ = n;
        todo!()
    }
    pub fn event_count(&self) -> usize {
        todo!()
    }
    pub fn shutdown(self) {}
}
