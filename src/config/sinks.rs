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
    /// Where records the receiver refuses for what they are (400, 422 and other data-shaped
    /// 4xx, or one record too large alone for a 413) are appended as JSONL; never records refused
    /// because the configuration is wrong (401, 403, 404, …: those fail the delivery).
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

impl SinkConfig {
    /// The sink's name in logs, metrics labels, errors and its acceptance records: its `name`,
    /// else one derived from what it writes to (`stdout`, `file:<path>`, `http:<url>`). The one
    /// place a sink's name is computed: the builders and validation both call it, and validation
    /// refuses two sinks with one effective name (they would share acceptance records).
    ///
    /// A derived HTTP name keeps the URL's scheme, host, port and path only: user info and the
    /// query may hold credentials (`https://user:pass@…`, `?sig=…`), and the name is logged.
    pub fn effective_name(&self) -> String {
        match self {
            SinkConfig::Stdout(s) => s.name.clone().unwrap_or_else(|| "stdout".into()),
            SinkConfig::File(f) => f
                .name
                .clone()
                .unwrap_or_else(|| format!("file:{}", f.path.display())),
            SinkConfig::Http(h) => h
                .name
                .clone()
                .unwrap_or_else(|| format!("http:{}", url_without_secrets(&h.url))),
        }
    }
}

/// `url` with its user info, query and fragment left out (the URL as written when it does not
/// parse: validation refuses it before any sink is built).
pub fn url_without_secrets(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// `path` made absolute (against the working directory) and normalised by its text alone:
/// `.` dropped, `..` taken back, repeated separators collapsed; symbolic links are not followed
/// (the file may not exist yet). Two sinks whose paths normalise alike write the same file.
pub fn normalised_path(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> SinkConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn effective_names_given_or_derived() {
        assert_eq!(parse("type = \"stdout\"").effective_name(), "stdout");
        assert_eq!(
            parse("type = \"stdout\"\nname = \"console\"").effective_name(),
            "console"
        );
        assert_eq!(
            parse("type = \"file\"\npath = \"/var/log/e.jsonl\"").effective_name(),
            "file:/var/log/e.jsonl"
        );
        assert_eq!(
            parse("type = \"http\"\nurl = \"https://siem.example.com/in\"").effective_name(),
            "http:https://siem.example.com/in"
        );
        assert_eq!(
            parse("type = \"http\"\nurl = \"https://x/in\"\nname = \"a.b\"").effective_name(),
            "a.b"
        );
    }

    #[test]
    fn a_derived_http_name_carries_no_credentials() {
        let name = parse(
            "type = \"http\"\nurl = \"https://user:pa55@siem.example.com:8443/in?sig=s3cr3t#f\"",
        )
        .effective_name();
        assert_eq!(name, "http:https://siem.example.com:8443/in");
    }

    #[test]
    fn paths_normalise_by_their_text() {
        let n = |p: &str| normalised_path(std::path::Path::new(p));
        assert_eq!(n("/var/log/./x//e.jsonl"), n("/var/log/x/e.jsonl"));
        assert_eq!(n("/var/log/y/../x/e.jsonl"), n("/var/log/x/e.jsonl"));
        assert_ne!(n("/var/log/x/e.jsonl"), n("/var/log/x/f.jsonl"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(n("e.jsonl"), cwd.join("e.jsonl"));
    }
}
