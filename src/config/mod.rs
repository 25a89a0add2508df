//! Configuration: TOML file plus `DOCUSIGN_COLLECTOR__…` environment overrides, validated.
//!
//! Loading reads the TOML file with the `toml` crate into a value tree, applies the environment
//! overrides to that tree, then deserializes it with `serde_path_to_error` so every error names
//! the full key path. The `config` crate is not used for this: inside the internally tagged
//! `[[sinks]]` tables it neither converts environment strings to numbers/booleans nor reports
//! the key path, and its error messages garble array paths (`integrations[0]customer_events`).

use crate::record::EventType;
pub use crate::support::http_client::Proxy;
use crate::support::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod load;
mod validate;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/docusign-collector/config.toml";
pub const ENV_PREFIX: &str = "DOCUSIGN_COLLECTOR";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_state_path")]
    pub state_path: PathBuf,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub api: Option<ApiConfig>,
    #[serde(default)]
    pub integrations: Vec<IntegrationConfig>,
    /// Empty means one stdout sink.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    /// After SIGTERM/SIGINT, how long `run` waits for the pages in flight (a sink outage
    /// can hold them) before it exits with the cursors at the last accepted page.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: HumanDuration,
    /// The file this configuration was read from (not a TOML key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

fn default_shutdown_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

fn default_state_path() -> PathBuf {
    PathBuf::from("/var/lib/docusign-collector/state.db")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_log_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_log_level(),
            format: LogFormat::Text,
        }
    }
}

fn default_log_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

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
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_hour: default_per_hour(),
            burst: default_burst(),
            reserve: default_reserve(),
            min_spacing: default_zero(),
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
fn default_retry_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

fn default_redirect_url() -> String {
    "https://localhost".into()
}

fn default_event_types() -> Vec<EventType> {
    vec![EventType::CustomerEvents]
}

/// A duration written as a humantime string ("90s", "5m").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim())
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {s:?} ({e}); write it like \"90s\", \"5m\" or \"24h\""
                ))
            })
    }
}

/// Where the first run starts when there is no cursor yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Now minus this much.
    Lookback(Duration),
    /// This moment (Unix seconds).
    At(i64),
}

impl StartFrom {
    /// The start as Unix seconds, given the current time.
    pub fn resolve(self, now_unix: i64) -> i64 {
        match self {
            StartFrom::Lookback(d) => now_unix - d.as_secs() as i64,
            StartFrom::At(t) => t,
        }
    }
}

impl<'de> Deserialize<'de> for StartFrom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let s = s.trim();
        if let Ok(d) = humantime::parse_duration(s) {
            return Ok(StartFrom::Lookback(d));
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Ok(StartFrom::At(t.timestamp()));
        }
        Err(serde::de::Error::custom(format!(
            "invalid start_from {s:?}: write a lookback (\"15m\", \"24h\", \"7d\") or an RFC 3339 time (\"2024-01-01T00:00:00Z\")"
        )))
    }
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
}

impl Default for AuditUsersConfig {
    fn default() -> Self {
        AuditUsersConfig {
            interval: default_au_interval(),
            page_size: default_au_page_size(),
            start_from: default_start_from(),
            enrich: true,
            enrich_concurrency: default_enrich_concurrency(),
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

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    Stdout(StdoutSinkConfig),
    File(FileSinkConfig),
    Http(HttpSinkConfig),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
    pub path: PathBuf,
    /// Rotate once the file grows past this size.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`events.jsonl.1` … `.N`).
    #[serde(default = "default_max_files")]
    pub max_files: u32,
}

fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}
fn default_max_files() -> u32 {
    10
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpSinkFormat {
    #[default]
    Ndjson,
    JsonArray,
    SplunkHec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    #[serde(default)]
    pub format: HttpSinkFormat,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub gzip: bool,
    #[serde(default = "default_batch_max_events")]
    pub batch_max_events: usize,
    #[serde(default = "default_batch_max_bytes")]
    pub batch_max_bytes: usize,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    #[serde(default)]
    pub proxy: Proxy,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Splunk HEC `host` field (default: this machine's host name).
    #[serde(default)]
    pub host: Option<String>,
    /// Where a batch the receiver rejects (4xx other than 408/429) is written.
    #[serde(default)]
    pub dead_letter_path: Option<PathBuf>,
    /// First backoff after a failed post (full jitter, doubling each time; retried until accepted).
    #[serde(default = "default_sink_retry_initial")]
    pub retry_initial: HumanDuration,
    /// Longest backoff between posts.
    #[serde(default = "default_retry_max")]
    pub retry_max: HumanDuration,
}

fn default_sink_retry_initial() -> HumanDuration {
    HumanDuration(Duration::from_millis(250))
}

fn default_batch_max_events() -> usize {
    500
}
fn default_batch_max_bytes() -> usize {
    1024 * 1024
}

/// A configuration that cannot be used. `Display` names the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub message: String,
}

/// Which file to read: `--config`, else `$DOCUSIGN_COLLECTOR_CONFIG`, else the default path.
pub fn resolve_path(cli: Option<&Path>) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    match std::env::var_os("DOCUSIGN_COLLECTOR_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}

/// Read, override from the environment, and validate the configuration at `path`.
///
/// Every `DOCUSIGN_COLLECTOR__…` variable of the process environment overrides one key; see
/// [`load_with_env`].
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    load_with_env(path, env)
}

/// [`load`] with an explicit environment (only the `DOCUSIGN_COLLECTOR__…` entries are used).
///
/// Variable names map to keys case-insensitively with `__` between levels:
/// `DOCUSIGN_COLLECTOR__LOG__LEVEL` is `log.level`; an integration or sink is addressed by index
/// (`…__INTEGRATIONS__0__PRIVATE_KEY`) or by its `name` (`…__INTEGRATIONS__ACME__PRIVATE_KEY`;
/// an all-digit segment is always an index). Values are strings, converted to a number, boolean
/// or comma-separated list where the key expects one.
pub fn load_with_env(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let text = load::read_file(path)?;
    load_str_with_env(&text, &path.display().to_string(), Some(path), env)
}

/// Parse and validate configuration text without consulting the environment.
/// `origin` names the text in error messages (a file name, "embedded demo configuration", …).
pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    load_str_with_env(text, origin, None, std::iter::empty())
}

/// [`load_with_env`] on text already read: `origin` names it in errors, `source` is the file it
/// came from (if any).
pub fn load_str_with_env(
    text: &str,
    origin: &str,
    source: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut tree = load::parse_tree(text, origin)?;
    let origins = load::apply_env(&mut tree, env, origin)?;
    let mut cfg = load::deserialize(tree, origin).map_err(|e| origins.annotate(e))?;
    cfg.source = source.map(Path::to_path_buf);
    validate(&cfg, origin).map_err(|e| origins.annotate(e))?;
    Ok(cfg)
}

/// Check every rule a usable configuration must satisfy (ranges, names, URLs, readable files,
/// parsable keys). `file` names the configuration in the error.
pub fn validate(cfg: &Config, file: &str) -> Result<(), ConfigError> {
    validate::validate(cfg, file)
}

impl IntegrationConfig {
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

#[cfg(test)]
mod tests;
