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
/// It follows no redirect: a 3xx answer comes back to the caller as it is.
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
        .pool_idle_timeout(Duration::from_secs(60))
        // Never follow a redirect: reqwest re-sends a hop's headers (the bearer token) to every
        // later hop on the first hop's origin, turns a POST into a GET (a sink "delivers" to a
        // login page) and re-posts a 307's body (the signed assertion) anywhere. A 3xx is
        // handed to the caller, which treats it as an error (ARCHITECTURE.md, Invariants).
        .redirect(reqwest::redirect::Policy::none());
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
        let pem = super::credentials::read(path).map_err(|e| format!("ca_file: {e}"))?;
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

type Shared<T> = std::sync::Mutex<std::collections::HashMap<String, T>>;

/// A reqwest client for these settings, shared by every caller that asks for the same ones.
///
/// A client holds a TLS configuration (the root store) and a connection pool; built once per
/// integration they dominate an integration's memory. Integrations with the same settings (the
/// usual case: defaults) share one, and its pool: connections to the same Docusign host are
/// reused across integrations. The CA bundle's content is part of the settings, so a changed
/// file gets a new client. One client per distinct settings is kept for the process's life
/// (there are few: settings come from configuration, not from requests).
pub fn shared_client(
    timeout: Duration,
    proxy: &Proxy,
    insecure: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    static SHARED: std::sync::OnceLock<Shared<reqwest::Client>> = std::sync::OnceLock::new();
    let key = settings_key(timeout, proxy, insecure, ca_file)?;
    get_or_build(SHARED.get_or_init(Default::default), key, || {
        build_client(timeout, proxy, insecure, ca_file)
    })
}

/// What tells two clients' settings apart (the CA bundle by its content's SHA-256).
fn settings_key(
    timeout: Duration,
    proxy: &Proxy,
    insecure: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let ca_digest = match ca_file {
        Some(path) => {
            let pem = super::credentials::read(path).map_err(|e| format!("ca_file: {e}"))?;
            format!("{:x}", Sha256::digest(&pem))
        }
        None => String::new(),
    };
    Ok(format!(
        "{timeout:?}|{proxy:?}|{insecure}|{ca_file:?}|{ca_digest}"
    ))
}

/// The value under `key`, built (once) when missing.
fn get_or_build<T: Clone>(
    shared: &Shared<T>,
    key: String,
    build: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let mut map = shared.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(v) = map.get(&key) {
        return Ok(v.clone());
    }
    let v = build()?;
    map.insert(key, v.clone());
    Ok(v)
}

/// A client for the collector's own local API on loopback (`healthcheck`): the whole request
/// bounded by `timeout`, never through a proxy, and — like every client here — following no
/// redirect (the local API never redirects: a 3xx is an unhealthy answer, not a hop).
pub fn loopback_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_settings_share_one_client_and_other_settings_get_their_own() {
        let t = Duration::from_secs(30);
        let key = |insecure| settings_key(t, &Proxy::None, insecure, None).expect("key");
        let shared = Shared::default();
        let mut builds = 0;
        for k in [key(false), key(false), key(true), key(false)] {
            get_or_build(&shared, k, || {
                builds += 1;
                Ok(builds)
            })
            .expect("built");
        }
        assert_eq!(builds, 2, "one client per distinct settings");
        assert_ne!(
            key(false),
            settings_key(t * 2, &Proxy::None, false, None).expect("key")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "one").expect("write");
        let first = settings_key(t, &Proxy::None, false, Some(&ca)).expect("key");
        std::fs::write(&ca, "two").expect("write");
        let second = settings_key(t, &Proxy::None, false, Some(&ca)).expect("key");
        assert_ne!(first, second, "a changed CA bundle is other settings");
        let missing = std::path::Path::new("/nonexistent/ca.pem");
        assert!(shared_client(t, &Proxy::None, false, Some(missing)).is_err());
        assert!(shared_client(t, &Proxy::None, false, None).is_ok());
    }
}
