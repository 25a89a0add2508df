//! `type = "http"`: its table, its rules and its build.

use super::HttpSink;
use crate::sinks::{Component, Sink, SinkError, WrittenFile};
use crate::support::checks::{self, fail, Checked, Invalid};
use crate::support::duration::HumanDuration;
use crate::support::http_client::{ClientSettings, Proxy, Redirects};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    // The client's settings, written flat in the sink's table (operators' keys since the
    // start); `client()` makes them the `ClientSettings` every client is built from.
    #[serde(default = "ClientSettings::default_timeout")]
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
    #[serde(default = "default_retry_initial")]
    pub retry_initial: HumanDuration,
    /// Longest backoff between posts.
    #[serde(default = "default_retry_max")]
    pub retry_max: HumanDuration,
}

fn default_retry_initial() -> HumanDuration {
    HumanDuration(Duration::from_millis(250))
}
fn default_retry_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_batch_max_events() -> usize {
    500
}
fn default_batch_max_bytes() -> usize {
    1024 * 1024
}

impl HttpSinkConfig {
    /// The sink's client settings (its flat `timeout`, `proxy`, `insecure`, `ca_file`).
    pub fn client(&self) -> ClientSettings {
        ClientSettings {
            timeout: self.timeout,
            proxy: self.proxy.clone(),
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            redirects: Redirects::Never,
        }
    }

    /// `headers` as sent: the one parser (validation and the build both call it). Values are
    /// marked sensitive (reqwest keeps them out of its `Debug`): one may be a credential.
    pub fn header_map(&self) -> Result<HeaderMap, Invalid> {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                return Err(Invalid::new(
                    "headers",
                    format!("{name:?} is not a valid HTTP header name"),
                ));
            };
            let Ok(mut v) = HeaderValue::from_str(value) else {
                return Err(Invalid::new(
                    format!("headers.{name}"),
                    "is not a valid HTTP header value (control characters?)",
                ));
            };
            v.set_sensitive(true);
            headers.insert(header, v);
        }
        Ok(headers)
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

impl Component for HttpSinkConfig {
    fn given_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `http:` and the URL's scheme, host, port and path only: user info and the query may
    /// hold credentials (`https://user:pass@…`, `?sig=…`), and the name is logged.
    fn derived_name(&self) -> String {
        format!("http:{}", url_without_secrets(&self.url))
    }

    fn validate(&self) -> Checked {
        checks::http_url("url", &self.url)?;
        if self.batch_max_events < 1 {
            fail("batch_max_events", "must be at least 1")?;
        }
        if self.batch_max_bytes < 1024 {
            fail(
                "batch_max_bytes",
                format!(
                    "{} is too small: use at least 1024 (bytes)",
                    self.batch_max_bytes
                ),
            )?;
        }
        self.client().validate()?;
        if let Some(p) = &self.token_file {
            checks::non_empty_file("token_file", p)?;
        }
        self.header_map()?;
        if let Some(p) = &self.dead_letter_path {
            if p.as_os_str().is_empty() {
                fail("dead_letter_path", "must not be empty (or leave it out)")?;
            }
        }
        Ok(())
    }

    fn path_keys(&self) -> Vec<(&'static str, &Path)> {
        [
            ("token_file", &self.token_file),
            ("ca_file", &self.ca_file),
            ("dead_letter_path", &self.dead_letter_path),
        ]
        .into_iter()
        .filter_map(|(key, p)| Some((key, p.as_deref()?)))
        .collect()
    }

    fn secret_files(&self) -> Vec<(&'static str, &Path)> {
        self.token_file
            .iter()
            .map(|p| ("token_file", p.as_path()))
            .collect()
    }

    fn written_files(&self) -> Vec<WrittenFile<'_>> {
        self.dead_letter_path
            .iter()
            .map(|p| WrittenFile {
                key: "dead_letter_path",
                path: p,
                rotated: 0,
                shared: true,
            })
            .collect()
    }

    fn build(&self) -> Result<Arc<dyn Sink>, SinkError> {
        Ok(Arc::new(HttpSink::new(self.name(), self)?))
    }
}
