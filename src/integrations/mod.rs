//! Integrations at run time: one [`Integration`] per Docusign account (its configuration, token
//! source, rate limiter and sources), the [`Registry`] of all of them (from the configuration
//! file and from the local API), and the API's record shape (`managed`).
//!
//! Invariant: an `Integration` is immutable once built; a change builds a new one and replaces
//! it in the registry, and the scheduler restarts its streams between pages.

pub mod managed;
pub mod policy;
pub mod probe;
mod registry;

pub use registry::{LeftOut, Registry};

/// An integration that cannot be set up (its key, its HTTP settings), or the state database
/// that holds the API's integrations could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("integration {integration}: {message}")]
    Invalid {
        integration: String,
        message: String,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

use crate::config::IntegrationConfig;
use crate::docusign::auth::Authenticator;
use crate::docusign::client::{build_http, ApiClient, RetryPolicy};
use crate::docusign::ratelimit::{RateLimitSettings, RateLimiter};
use crate::record::EventType;
use crate::sources::admin_users::AdminUsersSource;
use crate::sources::monitor::MonitorSource;
use crate::state::State;
use crate::state::StateError;
use crate::support::backoff::Backoff;
use crate::support::key;
use std::sync::Arc;

/// Everything one integration needs at run time.
pub struct Integration {
    pub config: IntegrationConfig,
    pub auth: Arc<Authenticator>,
    pub monitor: MonitorSource,
    pub admin: AdminUsersSource,
    /// Where the integration is defined.
    pub origin: Origin,
}

/// Where an integration is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file (read-only through the API).
    File,
    /// Created through the local API and stored in the state database (Unix seconds).
    Api { created_at: i64, updated_at: i64 },
}

impl Integration {
    pub fn new(config: IntegrationConfig, state: State) -> Result<Integration, SetupError> {
        let setup = |message: String| SetupError::Invalid {
            integration: config.name.clone(),
            message,
        };
        let key = key::load(config.key_source()).map_err(|e| setup(e.to_string()))?;
        let http = build_http(&config.http).map_err(setup)?;
        if config.http.insecure {
            tracing::warn!(integration = %config.name, "http.insecure = true: TLS certificates are NOT verified for this integration; do not use this in production");
        }
        let auth = Arc::new(Authenticator::new(&config, key, state, http.clone()));
        let rl = &config.rate_limit;
        let settings = RateLimitSettings {
            per_hour: rl.per_hour,
            burst: rl.burst,
            reserve: rl.reserve,
            min_spacing: rl.min_spacing.0,
            max_wait: rl.max_wait.0,
        };
        let limiter = Arc::new(RateLimiter::new(&config.name, settings));
        let retry = RetryPolicy {
            max_attempts: config.retry.max_attempts,
            backoff: Backoff::new(config.retry.initial.0, config.retry.max.0),
        };
        let client = ApiClient::new(&config.name, http, auth.clone(), limiter).with_retry(retry);
        let monitor = MonitorSource::new(client.clone(), &config);
        let admin = AdminUsersSource::new(client.clone(), &config);
        Ok(Integration {
            config,
            auth,
            monitor,
            admin,
            origin: Origin::File,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// This integration's streams (none while it is inactive).
    pub fn streams(self: &Arc<Self>) -> Vec<(Arc<Integration>, EventType)> {
        if !self.config.is_active() {
            return Vec::new();
        }
        self.config
            .event_types
            .iter()
            .map(|et| (self.clone(), *et))
            .collect()
    }
}
