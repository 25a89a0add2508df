//! Sink configurations: `[[sinks]]` tables, tagged by `type`.

use super::integration::{default_retry_max, default_timeout};
use super::HumanDuration;
use crate::support::http_client::Proxy;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

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
