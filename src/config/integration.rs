//! An integration's configuration: one Docusign account, its event types, endpoints, HTTP,
//! rate-limit and retry settings.

use super::{HumanDuration, StartFrom};
use crate::record::EventType;
use crate::support::http_client::Proxy;
use crate::support::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    #[serde(alias = "stage")]
    Developer,
    Production,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Active,
    Inactive,
}

/// Which Monitor endpoint serves customer events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorApi {
    /// `GET {monitor}/api/v2.0/datasets/monitor/stream` (events under `data`).
    #[default]
    Lens,
    /// `GET {monitor}/v1/organizations/{organization_id}/stream` (events under `resultData`).
    V1,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    pub name: String,
    pub environment: Environment,
    #[serde(default)]
    pub status: Status,
    pub integration_key: String,
    pub user_id: String,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    #[serde(default)]
    pub private_key: Option<Secret>,
    #[serde(default = "default_redirect_url")]
    pub redirect_url: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default = "default_event_types")]
    pub event_types: Vec<EventType>,
    #[serde(default)]
    pub change_keys: bool,
    #[serde(default)]
    pub customer_events: CustomerEventsConfig,
    #[serde(default)]
    pub audit_users: AuditUsersConfig,
    #[serde(default)]
    pub endpoints: EndpointsConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub retry: RetryConfig,
}

/// This integration's share of the account's Docusign API budget (all its calls together).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Calls per hour (Docusign's default account budget is 3,000, shared by every app).
    #[serde(default = "default_per_hour")]
    pub per_hour: u32,
    /// Calls that may go out back to back (Docusign's 30-second burst limit is 200 in the
    /// developer environment, 500 in production).
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Calls left to other apps: at `X-RateLimit-Remaining <= reserve` calls wait for the reset.
    #[serde(default = "default_reserve")]
    pub reserve: u32,
    /// Minimum time between two calls to the same API ("0s" = none).
    #[serde(default = "default_zero")]
    pub min_spacing: HumanDuration,
    /// The longest pause one answer (`Retry-After`, `X-RateLimit-Reset`) may impose: longer
    /// ones are clamped to it and logged. 1s..=1h (Docusign's budget window); default 1h.
    #[serde(default = "default_max_wait")]
    pub max_wait: HumanDuration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_hour: default_per_hour(),
            burst: default_burst(),
            reserve: default_reserve(),
            min_spacing: default_zero(),
            max_wait: default_max_wait(),
        }
    }
}

fn default_per_hour() -> u32 {
    1000
}
fn default_burst() -> u32 {
    50
}
fn default_reserve() -> u32 {
    100
}
fn default_max_wait() -> HumanDuration {
    // Docusign's budget window (the limiter's `MAX_WAIT`; config sits below `docusign`).
    HumanDuration(Duration::from_secs(3600))
}
fn default_zero() -> HumanDuration {
    HumanDuration(Duration::ZERO)
}

/// Retries of one Docusign request (5xx, 408, 429, timeouts, cut-off or malformed answers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per request, the first included; then the cycle fails and the next resumes.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Backoff before the second attempt (full jitter, doubling each time).
    #[serde(default = "default_retry_initial")]
    pub initial: HumanDuration,
    /// Longest backoff.
    #[serde(default = "default_retry_max")]
    pub max: HumanDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: default_max_attempts(),
            initial: default_retry_initial(),
            max: default_retry_max(),
        }
    }
}

fn default_max_attempts() -> u32 {
    5
}
fn default_retry_initial() -> HumanDuration {
    HumanDuration(Duration::from_millis(500))
}
pub(super) fn default_retry_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

fn default_redirect_url() -> String {
    "https://localhost".into()
}

fn default_event_types() -> Vec<EventType> {
    vec![EventType::CustomerEvents]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerEventsConfig {
    #[serde(default = "default_ce_interval")]
    pub interval: HumanDuration,
    /// 1..=2000
    #[serde(default = "default_ce_page_size")]
    pub page_size: u32,
    #[serde(default = "default_start_from")]
    pub start_from: StartFrom,
    #[serde(default)]
    pub api: MonitorApi,
}

impl Default for CustomerEventsConfig {
    fn default() -> Self {
        CustomerEventsConfig {
            interval: default_ce_interval(),
            page_size: default_ce_page_size(),
            start_from: default_start_from(),
            api: MonitorApi::Lens,
        }
    }
}

fn default_ce_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_ce_page_size() -> u32 {
    2000
}
fn default_start_from() -> StartFrom {
    StartFrom::Lookback(Duration::from_secs(24 * 3600))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditUsersConfig {
    #[serde(default = "default_au_interval")]
    pub interval: HumanDuration,
    /// 1..=250
    #[serde(default = "default_au_page_size")]
    pub page_size: u32,
    #[serde(default = "default_start_from")]
    pub start_from: StartFrom,
    #[serde(default = "default_true")]
    pub enrich: bool,
    /// eSignature requests in flight at once (1..=32).
    #[serde(default = "default_enrich_concurrency")]
    pub enrich_concurrency: u32,
    /// A query with more users than this reads the account's eSignature users through
    /// Users:list (100 a call) instead of one call per user.
    #[serde(default = "default_bulk_threshold")]
    pub bulk_threshold: u32,
    /// How far before the previous query's start the next query reaches back
    /// (`last_modified_since`): covers clock skew with Docusign and the API's resolution.
    #[serde(default = "default_overlap")]
    pub overlap: HumanDuration,
    /// How a record is shaped.
    #[serde(default)]
    pub record_shape: AuditRecordShape,
}

/// How an audit-user record is shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditRecordShape {
    /// The Admin user, with the eSignature user under `esignature`.
    #[default]
    Admin,
    /// The eSignature user at the top level (`userId`, `userName`, `email`, …, as SIEM content
    /// written for Docusign's user records expects), with the Admin user under `admin`.
    Esignature,
}

impl Default for AuditUsersConfig {
    fn default() -> Self {
        AuditUsersConfig {
            interval: default_au_interval(),
            page_size: default_au_page_size(),
            start_from: default_start_from(),
            enrich: true,
            enrich_concurrency: default_enrich_concurrency(),
            bulk_threshold: default_bulk_threshold(),
            overlap: default_overlap(),
            record_shape: AuditRecordShape::default(),
        }
    }
}

fn default_au_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_au_page_size() -> u32 {
    250
}
fn default_true() -> bool {
    true
}
fn default_enrich_concurrency() -> u32 {
    4
}
fn default_bulk_threshold() -> u32 {
    50
}
fn default_overlap() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsConfig {
    #[serde(default)]
    pub oauth: Option<String>,
    #[serde(default)]
    pub monitor: Option<String>,
    #[serde(default)]
    pub admin: Option<String>,
}

/// Base URLs after defaults, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub oauth: String,
    pub monitor: String,
    pub admin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    #[serde(default)]
    pub proxy: Proxy,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: default_timeout(),
            proxy: Proxy::System,
            insecure: false,
            ca_file: None,
        }
    }
}

pub(super) fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

impl IntegrationConfig {
    /// Where this integration's private key comes from.
    pub fn key_source(&self) -> crate::support::key::KeySource<'_> {
        crate::support::key::KeySource {
            file: self.private_key_file.as_deref(),
            inline: self.private_key.as_ref(),
        }
    }

    /// Base URLs: configured ones, else the environment's defaults.
    pub fn endpoints(&self) -> Endpoints {
        let v1 = self.customer_events.api == MonitorApi::V1;
        let (oauth, monitor, admin) = match self.environment {
            Environment::Developer => (
                "https://account-d.docusign.com",
                if v1 {
                    "https://api-d.docusign.com"
                } else {
                    "https://lens-d.docusign.net"
                },
                "https://api-d.docusign.net/management",
            ),
            Environment::Production => (
                "https://account.docusign.com",
                if v1 {
                    "https://api.docusign.com"
                } else {
                    "https://lens.docusign.net"
                },
                "https://api.docusign.net/management",
            ),
        };
        let pick = |configured: &Option<String>, default: &str| {
            configured
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or(default)
                .trim_end_matches('/')
                .to_string()
        };
        Endpoints {
            oauth: pick(&self.endpoints.oauth, oauth),
            monitor: pick(&self.endpoints.monitor, monitor),
            admin: pick(&self.endpoints.admin, admin),
        }
    }

    /// Whether this integration collects `et`.
    pub fn collects(&self, et: EventType) -> bool {
        self.event_types.contains(&et)
    }

    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }
}
