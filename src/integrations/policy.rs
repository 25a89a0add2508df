//! Least privilege for integrations created through the local API.
//!
//! Whoever holds the API token may add integrations, but not borrow the host's authority: an
//! API integration carries its private key inline (sealed at rest), names no file on this host
//! (`private_key_file`, `http.ca_file`), uses the collector's own proxy settings (`http.proxy`
//! only "system", the default), always verifies TLS (`http.insecure` only false), and sends its
//! assertion and tokens only to Docusign's endpoints for its environment — or to an origin the
//! operator listed in `[api] allowed_endpoints`. The same rules apply when a stored integration
//! is loaded at start, so removing an origin from the list takes effect at the next start.

use crate::config::api::{origin_of, parse_origin};
use crate::config::{Config, Environment, IntegrationConfig, MonitorApi, Proxy};

/// The origins API integrations may use besides Docusign's own.
#[derive(Debug, Clone, Default)]
pub struct ApiPolicy {
    allowed: Vec<String>,
}

impl ApiPolicy {
    /// The policy of `[api] allowed_endpoints` (entries already validated; an unreadable one
    /// allows nothing).
    pub fn new(allowed: &[String]) -> ApiPolicy {
        ApiPolicy {
            allowed: allowed
                .iter()
                .filter_map(|o| parse_origin(o).ok())
                .collect(),
        }
    }

    pub fn from_config(cfg: &Config) -> ApiPolicy {
        cfg.api
            .as_ref()
            .map(|a| ApiPolicy::new(&a.allowed_endpoints))
            .unwrap_or_default()
    }

    /// Whether `c` keeps to the rules; the error names the key (`data.…`).
    pub fn check(&self, c: &IntegrationConfig) -> Result<(), String> {
        if c.private_key_file.is_some() {
            return Err(
                "data.private_key_file: an integration created through the API carries \
                 its key inline (privateKey, sealed at rest); it may not name a file on this host"
                    .into(),
            );
        }
        if c.http.ca_file.is_some() {
            return Err(
                "data.http.ca_file: an integration created through the API may not name \
                 a file on this host (Docusign's certificates chain to the public roots; for a \
                 private CA, define the integration in the configuration file)"
                    .into(),
            );
        }
        if c.http.proxy != Proxy::System {
            return Err(
                "data.http.proxy: an integration created through the API uses the \
                 collector's own proxy settings (HTTPS_PROXY and NO_PROXY of its environment): \
                 leave http.proxy out or set it to \"system\""
                    .into(),
            );
        }
        if c.http.insecure {
            return Err(
                "data.http.insecure: an integration created through the API always \
                 verifies TLS certificates: leave http.insecure out or set it to false"
                    .into(),
            );
        }
        let (env, own) = docusign_origins(c);
        let endpoints = c.endpoints();
        for (key, label, url, docusign) in [
            ("oauth", "OAuth", &endpoints.oauth, own.0),
            ("monitor", "Monitor", &endpoints.monitor, own.1),
            ("admin", "Admin", &endpoints.admin, own.2),
        ] {
            let origin = origin_of(url);
            let ok = origin
                .as_deref()
                .is_some_and(|o| o == docusign || self.allowed.iter().any(|a| a == o));
            if !ok {
                let shown = origin.unwrap_or_else(|| "this URL".into());
                return Err(format!(
                    "data.endpoints.{key}: {shown} is not Docusign's {env} {label} endpoint \
                     ({docusign}); list its origin in [api] allowed_endpoints to allow it"
                ));
            }
        }
        Ok(())
    }
}

/// The environment's name and Docusign's (OAuth, Monitor, Admin) origins for `c` (the
/// Monitor origin of the Monitor API it uses).
fn docusign_origins(
    c: &IntegrationConfig,
) -> (&'static str, (&'static str, &'static str, &'static str)) {
    let v1 = c.customer_events.api == MonitorApi::V1;
    match c.environment {
        Environment::Developer => (
            "developer",
            (
                "https://account-d.docusign.com",
                if v1 {
                    "https://api-d.docusign.com"
                } else {
                    "https://lens-d.docusign.net"
                },
                "https://api-d.docusign.net",
            ),
        ),
        Environment::Production => (
            "production",
            (
                "https://account.docusign.com",
                if v1 {
                    "https://api.docusign.com"
                } else {
                    "https://lens.docusign.net"
                },
                "https://api.docusign.net",
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(extra: serde_json::Value) -> IntegrationConfig {
        let mut v = json!({"name": "acme", "environment": "developer", "integration_key": "ik",
            "user_id": "u", "private_key": "x"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn docusign_defaults_pass_and_other_origins_need_listing() {
        let p = ApiPolicy::default();
        p.check(&cfg(json!({}))).unwrap();
        p.check(&cfg(json!({"environment": "production"}))).unwrap();
        p.check(&cfg(
            json!({"endpoints": {"admin": "https://api-d.docusign.net/management/"}}),
        ))
        .unwrap();
        let evil = cfg(json!({"endpoints": {"monitor": "https://evil.example/x"}}));
        let e = p.check(&evil).unwrap_err();
        assert_eq!(e, "data.endpoints.monitor: https://evil.example is not Docusign's developer Monitor endpoint (https://lens-d.docusign.net); list its origin in [api] allowed_endpoints to allow it");
        ApiPolicy::new(&["https://EVIL.example:443".into()])
            .check(&evil)
            .unwrap();
        // Another environment's endpoint is not this one's.
        let e = p
            .check(&cfg(json!({"environment": "production",
                "endpoints": {"oauth": "https://account-d.docusign.com"}})))
            .unwrap_err();
        assert!(
            e.starts_with("data.endpoints.oauth:") && e.contains("production"),
            "{e}"
        );
        // Monitor v1 lives on api(-d).docusign.com.
        let v1 = json!({"customer_events": {"api": "v1"}});
        p.check(&cfg(v1.clone())).unwrap();
        let mut lens_on_v1 = v1;
        lens_on_v1["endpoints"] = json!({"monitor": "https://lens-d.docusign.net"});
        assert!(p.check(&cfg(lens_on_v1)).is_err());
        // Same host, other port or scheme: another origin.
        assert!(p
            .check(&cfg(
                json!({"endpoints": {"oauth": "http://account-d.docusign.com"}})
            ))
            .is_err());
        assert!(p
            .check(&cfg(
                json!({"endpoints": {"oauth": "https://account-d.docusign.com:8443"}})
            ))
            .is_err());
    }

    #[test]
    fn files_proxies_and_insecure_are_refused_by_key() {
        let p = ApiPolicy::new(&["https://evil.example".into()]);
        for (extra, key) in [
            (
                json!({"private_key_file": "/etc/shadow", "private_key": null}),
                "data.private_key_file:",
            ),
            (
                json!({"http": {"ca_file": "/etc/ca.pem"}}),
                "data.http.ca_file:",
            ),
            (
                json!({"http": {"proxy": "http://evil.example:3128"}}),
                "data.http.proxy:",
            ),
            (json!({"http": {"proxy": "none"}}), "data.http.proxy:"),
            (json!({"http": {"insecure": true}}), "data.http.insecure:"),
        ] {
            let e = p.check(&cfg(extra.clone())).unwrap_err();
            assert!(e.starts_with(key), "{extra}: {e}");
        }
        p.check(&cfg(
            json!({"http": {"proxy": "system", "insecure": false}}),
        ))
        .unwrap();
    }
}
