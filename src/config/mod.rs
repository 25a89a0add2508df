//! Configuration: built-in defaults, the main TOML file, drop-ins from `conf.d/*.toml`, and
//! `DOCUSIGN_COLLECTOR__…` environment overrides, merged and validated.
//!
//! The `config` crate stacks the layers (`layers.rs`): each file is parsed with the `toml` crate
//! (for line/column syntax errors) into `config::Value`s tagged with their file, merged by the
//! file layer's rule for `[[integrations]]` (by `name`) and `[[sinks]]` (appended); the
//! environment is a custom `config::Source` (`env.rs`) that addresses entries by index or name.
//! The merged tree is deserialized as TOML values through `serde_path_to_error` (`load.rs`), not
//! by the `config` crate's deserializer: inside the internally tagged `[[sinks]]` tables that one
//! neither reports the key path nor keeps today's messages, and it garbles array paths
//! (`integrations[0]customer_events`). Each error's key path is then looked up in the merged
//! tree to name the file that set it.

pub use crate::support::http_client::Proxy;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod api;
mod cluster;
mod env;
mod integration;
mod layers;
mod load;
mod secret_files;
mod sinks;
mod validate;
mod values;

pub use cluster::*;
pub use integration::*;
pub use sinks::*;
pub use values::*;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/docusign-collector/config.toml";
pub const ENV_PREFIX: &str = "DOCUSIGN_COLLECTOR";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_state_path")]
    pub state_path: PathBuf,
    /// A PostgreSQL database that several replicas share, instead of `state_path`. `Debug`
    /// never shows it (it may hold a password).
    #[serde(default)]
    pub state_url: Option<crate::support::secret::Secret>,
    /// The PostgreSQL password, when `state_url` has none (may use `${CREDENTIALS_DIRECTORY}`);
    /// without either, `PGPASSWORD` is used.
    #[serde(default)]
    pub state_password_file: Option<PathBuf>,
    /// PEM certificates trusted for PostgreSQL's TLS besides the public roots.
    #[serde(default)]
    pub state_ca_file: Option<PathBuf>,
    /// How this replica takes part among several (only with `state_url`).
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
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
    /// Every file read, in layer order: the main file, then its drop-ins (not a TOML key).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
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
    pub format: crate::telemetry::logging::LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_log_level(),
            format: crate::telemetry::logging::LogFormat::Text,
        }
    }
}

fn default_log_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// 32 bytes or 64 hex digits: the AES-256-GCM key that seals the private keys of
    /// integrations created through the API. Without it the API refuses inline private keys.
    #[serde(default)]
    pub seal_key_file: Option<PathBuf>,
    /// Keys that sealed rows before `seal_key_file` (rotation): rows they open are resealed
    /// under `seal_key_file` at start. Same format; needs `seal_key_file`.
    #[serde(default)]
    pub previous_seal_key_files: Vec<PathBuf>,
    /// Origins (`scheme://host[:port]`) that integrations created through the API may use as
    /// endpoints besides Docusign's own for their environment (a gateway, a test server).
    #[serde(default)]
    pub allowed_endpoints: Vec<String>,
}

/// A configuration that cannot be used. `Display` names the file and the key.
/// The message is written through [`crate::support::secret::redact_key_material`]: an error that
/// echoes a value (serde's "invalid type: string …") never prints a key pasted in the wrong place.
#[derive(Debug, thiserror::Error)]
#[error(
    "{file}: {key}: {}",
    crate::support::secret::redact_key_material(message)
)]
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
/// Layers, each overriding the ones before: built-in defaults, the file at `path`, every
/// `conf.d/*.toml` beside it in name order (an `[[integrations]]` entry whose `name` matches an
/// earlier one is merged into it, others are appended; `[[sinks]]` are appended), then the
/// environment. An error names the key and the file that set it.
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
    let file = path.display().to_string();
    // The main file first: a missing main file is reported before its directory is looked at.
    load::read_file(path)?;
    let mut files = vec![path.to_path_buf()];
    files.extend(layers::dropins(path)?);
    let merged = layers::merge(path, &files, env)?;
    let mut cfg = load::deserialize(merged.toml(), &file).map_err(|e| merged.locate(e))?;
    cfg.source = Some(path.to_path_buf());
    cfg.files = files;
    validate(&cfg, &file).map_err(|e| merged.locate(e))?;
    Ok(cfg)
}

/// Parse and validate configuration text without consulting the environment.
/// `origin` names the text in error messages (a file name, "embedded demo configuration", …).
pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let tree = load::parse_tree(text, origin)?;
    let cfg = load::deserialize(tree, origin)?;
    validate(&cfg, origin)?;
    Ok(cfg)
}

/// [`load_with_env`] on text already read, without drop-ins: `origin` names it in errors,
/// `source` is the file it came from (if any).
pub fn load_str_with_env(
    text: &str,
    origin: &str,
    source: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let layer = layers::FileLayer::parse(text, origin)?;
    let merged = layers::merge_layers(origin, vec![layer], env)?;
    let mut cfg = load::deserialize(merged.toml(), origin).map_err(|e| merged.locate(e))?;
    cfg.source = source.map(Path::to_path_buf);
    validate(&cfg, origin).map_err(|e| merged.locate(e))?;
    Ok(cfg)
}

/// Check every rule a usable configuration must satisfy (ranges, names, URLs, readable files,
/// parsable keys). `file` names the configuration in the error.
pub fn validate(cfg: &Config, file: &str) -> Result<(), ConfigError> {
    validate::validate(cfg, file)
}

#[cfg(test)]
mod key_source_tests;
#[cfg(test)]
mod layer_tests;
#[cfg(test)]
mod tests;
