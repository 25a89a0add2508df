//! The one reqwest client builder (timeouts, proxy, CA file, insecure mode), shared by the
//! Docusign clients and the HTTP sink, and secret-free descriptions of transport errors.

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Proxy {
    /// `HTTPS_PROXY` / `NO_PROXY` from the environment.
    #[default]
    System,
    None,
    Url(String),
}

impl<'de> Deserialize<'de> for Proxy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "system" => Ok(Proxy::System),
            "none" => Ok(Proxy::None),
            u if u.starts_with("http://") || u.starts_with("https://") || u.starts_with("socks5://") => {
                Ok(Proxy::Url(u.to_string()))
            }
            other => Err(serde::de::Error::custom(format!(
                "invalid proxy {other:?}: write \"system\", \"none\" or a URL like \"http://proxy:3128\""
            ))),
        }
    }
}

/// A short, secret-free description of a transport error.
pub fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off or unreadable"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    // Only the error kind and its sources: the request URL (with its cursor) is left out.
    msg
}

/// A reqwest client with a timeout, a proxy choice, optional extra CA certificates, and
/// (when `insecure`) no certificate verification. Shared by the API clients and the http sink.
pub fn build_client(
    timeout: Duration,
    proxy: &Proxy,
    insecure: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(15)))
        .user_agent(concat!("docusign-collector/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60));
    match proxy {
        Proxy::System => {}
        Proxy::None => b = b.no_proxy(),
        Proxy::Url(u) => {
            let p = reqwest::Proxy::all(u).map_err(|e| format!("invalid proxy {u}: {e}"))?;
            b = b.proxy(p);
        }
    }
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "ca_file {} is not a PEM certificate bundle: {e}",
                path.display()
            )
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}
