//! The one reqwest client builder and the one type of its settings ([`ClientSettings`]:
//! timeout, proxy, CA file, insecure mode, redirect policy), taken by the Docusign clients (an
//! integration's `[integrations.http]` table) and the HTTP sink (its flat `timeout`, `proxy`,
//! `insecure`, `ca_file` keys); secret-free descriptions of transport errors.

use super::checks::{self, Checked};
use super::duration::HumanDuration;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// How a client builds its connections, as configured. Every client is built from one
/// ([`build_client`], [`shared_client`]) and every configured one is checked by
/// [`ClientSettings::validate`], whichever table it is written in.
///
/// Deserialized as `[integrations.http]` (unknown keys refused). The HTTP sink writes the same
/// keys flat in its `[[sinks]]` table and converts them (`HttpSinkConfig::client`): serde's
/// `flatten` would lose `deny_unknown_fields` and the key paths of its errors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// The whole request's deadline (the connection's is at most 15 s of it).
    #[serde(default = "ClientSettings::default_timeout")]
    pub timeout: HumanDuration,
    #[serde(default)]
    pub proxy: Proxy,
    /// No certificate verification (a test receiver's self-signed certificate).
    #[serde(default)]
    pub insecure: bool,
    /// PEM certificates trusted besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Not a key: there is one policy, and it is written here so that every client has it.
    #[serde(skip)]
    pub redirects: Redirects,
}

/// What a client does with a 3xx answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Redirects {
    /// Hand it to the caller as it is, which treats it as an error (ARCHITECTURE.md,
    /// Invariants): reqwest would re-send a hop's headers (the bearer token) to every later
    /// hop on the first hop's origin, turn a POST into a GET (a sink "delivers" to a login page)
    /// and re-post a 307's body (the signed assertion) anywhere.
    #[default]
    Never,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            timeout: ClientSettings::default_timeout(),
            proxy: Proxy::System,
            insecure: false,
            ca_file: None,
            redirects: Redirects::Never,
        }
    }
}

impl ClientSettings {
    /// 30 s.
    pub fn default_timeout() -> HumanDuration {
        HumanDuration(Duration::from_secs(30))
    }

    /// The one set of rules, keys relative to the table the settings are written in
    /// (`timeout`, `proxy`, `ca_file`; the caller puts them [`checks::Invalid::under`] it).
    pub fn validate(&self) -> Checked {
        checks::at_least_1s("timeout", self.timeout)?;
        if let Proxy::Url(u) = &self.proxy {
            if let Err(e) = url::Url::parse(u) {
                return checks::fail(
                    "proxy",
                    format!(
                        "{u:?} is not a valid proxy URL ({e}): write it like \"http://proxy:3128\""
                    ),
                );
            }
        }
        if let Some(p) = &self.ca_file {
            checks::ca_file("ca_file", p)?;
        }
        Ok(())
    }
}

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

/// A reqwest client with these settings' timeout, proxy, extra CA certificates, (when
/// `insecure`) no certificate verification, and redirect policy (never follow: a 3xx answer
/// comes back to the caller as it is). Shared by the API clients and the HTTP sink.
pub fn build_client(settings: &ClientSettings) -> Result<reqwest::Client, String> {
    let timeout = settings.timeout.0;
    let redirect = match settings.redirects {
        // Why never: see `Redirects::Never`.
        Redirects::Never => reqwest::redirect::Policy::none(),
    };
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(15)))
        .user_agent(concat!("docusign-collector/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(redirect);
    match &settings.proxy {
        Proxy::System => {}
        Proxy::None => b = b.no_proxy(),
        Proxy::Url(u) => {
            let p = reqwest::Proxy::all(u).map_err(|e| format!("invalid proxy {u}: {e}"))?;
            b = b.proxy(p);
        }
    }
    if settings.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(path) = &settings.ca_file {
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
pub fn shared_client(settings: &ClientSettings) -> Result<reqwest::Client, String> {
    static SHARED: std::sync::OnceLock<Shared<reqwest::Client>> = std::sync::OnceLock::new();
    let key = settings_key(settings)?;
    get_or_build(SHARED.get_or_init(Default::default), key, || {
        build_client(settings)
    })
}

/// What tells two clients' settings apart (the CA bundle by its content's SHA-256).
fn settings_key(settings: &ClientSettings) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let ca_digest = match &settings.ca_file {
        Some(path) => {
            let pem = super::credentials::read(path).map_err(|e| format!("ca_file: {e}"))?;
            format!("{:x}", Sha256::digest(&pem))
        }
        None => String::new(),
    };
    // Every field of the settings (the CA file's name and content), so that two settings
    // that differ in anything get their own client.
    let ClientSettings {
        timeout,
        proxy,
        insecure,
        ca_file,
        redirects,
    } = settings;
    Ok(format!(
        "{:?}|{proxy:?}|{insecure}|{ca_file:?}|{ca_digest}|{redirects:?}",
        timeout.0
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
        let settings = |timeout, insecure, ca_file: Option<&std::path::Path>| ClientSettings {
            timeout: HumanDuration(timeout),
            proxy: Proxy::None,
            insecure,
            ca_file: ca_file.map(std::path::Path::to_path_buf),
            redirects: Redirects::Never,
        };
        let key = |insecure| settings_key(&settings(t, insecure, None)).expect("key");
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
            settings_key(&settings(t * 2, false, None)).expect("key")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "one").expect("write");
        let first = settings_key(&settings(t, false, Some(&ca))).expect("key");
        std::fs::write(&ca, "two").expect("write");
        let second = settings_key(&settings(t, false, Some(&ca))).expect("key");
        assert_ne!(first, second, "a changed CA bundle is other settings");
        let missing = std::path::Path::new("/nonexistent/ca.pem");
        assert!(shared_client(&settings(t, false, Some(missing))).is_err());
        assert!(shared_client(&settings(t, false, None)).is_ok());
    }

    #[test]
    fn one_validation_with_keys_relative_to_the_table() {
        assert_eq!(ClientSettings::default().validate(), Ok(()));
        let short: ClientSettings = toml::from_str("timeout = \"500ms\"").expect("parse");
        let e = short.validate().expect_err("too short");
        assert_eq!(e.key, "timeout");
        assert!(e.message.contains("at least 1s"), "{}", e.message);
        let proxy = ClientSettings {
            proxy: Proxy::Url("http://[::1".into()),
            ..ClientSettings::default()
        };
        assert_eq!(proxy.validate().expect_err("bad proxy").key, "proxy");
        let dir = tempfile::tempdir().expect("tempdir");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate").expect("write");
        let ca = ClientSettings {
            ca_file: Some(not_pem),
            ..ClientSettings::default()
        };
        let e = ca.validate().expect_err("no certificate");
        assert_eq!(e.key, "ca_file");
        assert!(e.message.contains("no PEM certificate"), "{}", e.message);
    }

    #[test]
    fn the_redirect_policy_is_never_follow_and_no_key() {
        assert_eq!(ClientSettings::default().redirects, Redirects::Never);
        let err =
            toml::from_str::<ClientSettings>("redirects = \"follow\"").expect_err("not a key");
        assert!(
            err.to_string().contains("unknown field `redirects`"),
            "{err}"
        );
    }
}
