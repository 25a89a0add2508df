//! Integrations as the local API sees them: the seed's record shape
//! (`{"id","name","status","data":{"environment":"stage"|"production","changeKeys":…},"integration":{…},
//! "created_at","updated_at"}`), conversion of a request's camelCase `data` into an
//! [`IntegrationConfig`] validated by the same rules as the configuration file, and a description
//! that never contains a key or token.

use super::policy::ApiPolicy;
use crate::config::{self, Config, Environment, IntegrationConfig, Status};
use crate::record::{format_time, snake_case_value};
use serde_json::{json, Map, Value};

/// The seed's integration type record.
pub fn integration_type() -> Value {
    json!({"id": 8, "name": "Docusign", "slug": "docusign"})
}

/// Settings (snake_case configuration keys) from a request's `data` merged over `base`, with the
/// name and (when given) the status set. camelCase and snake_case keys are both accepted.
pub fn merge_settings(
    base: &Map<String, Value>,
    name: &str,
    status: Option<&str>,
    data: Option<&Value>,
) -> Result<Map<String, Value>, String> {
    let mut out = base.clone();
    if let Some(d) = data {
        let Value::Object(fields) = snake_case_value(d.clone()) else {
            return Err("data must be a JSON object".into());
        };
        for (k, v) in fields {
            // A new key replaces the other way of giving one.
            if k == "private_key" {
                out.remove("private_key_file");
            } else if k == "private_key_file" {
                out.remove("private_key");
            }
            if v.is_null() {
                out.remove(&k);
            } else {
                out.insert(k, v);
            }
        }
    }
    out.insert("name".into(), Value::String(name.to_string()));
    if let Some(s) = status {
        out.insert("status".into(), Value::String(s.to_string()));
    }
    Ok(out)
}

/// Parse and validate settings as an integration created through the API: the configuration
/// file's rules, then the API's own ([`ApiPolicy`]: inline key, no files, proxies or
/// `insecure`, Docusign's endpoints or listed origins), and a name that none of `files` (the
/// configuration file's integrations) has. The policy is checked before the configuration
/// rules, which would read the files a request names.
pub fn to_config(
    settings: &Map<String, Value>,
    files: &[IntegrationConfig],
    policy: &ApiPolicy,
) -> Result<IntegrationConfig, String> {
    let value = Value::Object(settings.clone());
    let cfg: IntegrationConfig = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            format!("data: {}", e.inner())
        } else {
            format!("data.{path}: {}", e.inner())
        }
    })?;
    if files.iter().any(|f| f.name == cfg.name) {
        return Err(format!(
            "name: the configuration file defines an integration {:?}; an integration created \
             through the API needs a name of its own (the name keys cursors and tokens)",
            cfg.name
        ));
    }
    policy.check(&cfg)?;
    let check = Config {
        state_path: "/unused".into(),
        state_url: None,
        state_password_file: None,
        state_ca_file: None,
        cluster: None,
        log: Default::default(),
        api: None,
        integrations: vec![cfg.clone()],
        sinks: Vec::new(),
        shutdown_timeout: config::HumanDuration(std::time::Duration::from_secs(30)),
        source: None,
        files: Vec::new(),
    };
    config::validate(&check, "request").map_err(|e| {
        e.key
            .strip_prefix("integrations[0].")
            .map(|k| format!("data.{k}: {}", e.message))
            .unwrap_or_else(|| format!("{}: {}", e.key, e.message))
    })?;
    Ok(cfg)
}

/// What the API shows of an integration's settings: never the key.
pub fn describe_settings(c: &IntegrationConfig) -> Value {
    let endpoints = c.endpoints();
    json!({
        "environment": match c.environment { Environment::Developer => "stage", Environment::Production => "production" },
        "changeKeys": c.change_keys,
        "integrationKey": c.integration_key,
        "userId": c.user_id,
        "accountId": c.account_id,
        "organizationId": c.organization_id,
        "redirectUrl": c.redirect_url,
        "eventTypes": c.event_types,
        "hasPrivateKey": c.private_key.is_some() || c.private_key_file.is_some(),
        "customerEvents": {
            "interval": humantime::format_duration(c.customer_events.interval.0).to_string(),
            "pageSize": c.customer_events.page_size,
            "api": match c.customer_events.api { config::MonitorApi::Lens => "lens", config::MonitorApi::V1 => "v1" },
        },
        "auditUsers": {
            "interval": humantime::format_duration(c.audit_users.interval.0).to_string(),
            "pageSize": c.audit_users.page_size,
            "enrich": c.audit_users.enrich,
        },
        "endpoints": {"oauth": endpoints.oauth, "monitor": endpoints.monitor, "admin": endpoints.admin},
    })
}

/// The seed-shaped record of an integration: `id` is its stable integer id (assigned by the
/// state database when the name is first seen), `name` beside it.
pub fn record(
    c: &IntegrationConfig,
    id: Option<i64>,
    source: &str,
    created_at: Option<i64>,
    updated_at: Option<i64>,
) -> Value {
    json!({
        "id": id,
        "name": c.name,
        "status": if c.status == Status::Active { "active" } else { "inactive" },
        "source": source,
        "data": describe_settings(c),
        "integration": integration_type(),
        "created_at": created_at.map(format_time),
        "updated_at": updated_at.map(format_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/rsa_pkcs1.pem"
        ))
        .unwrap()
    }

    fn request() -> Value {
        json!({
            "environment": "stage", "changeKeys": true, "integrationKey": "ik", "userId": "uid",
            "privateKey": pem(), "accountId": "acc", "organizationId": "org",
            "eventTypes": ["customer_events", "audit_users"],
            "customerEvents": {"pageSize": 500, "interval": "2m"},
        })
    }

    #[test]
    fn a_seed_request_becomes_a_validated_integration() {
        let s = merge_settings(&Map::new(), "acme", None, Some(&request())).unwrap();
        let c = to_config(&s, &[], &ApiPolicy::default()).unwrap();
        assert_eq!(c.name, "acme");
        assert_eq!(c.environment, Environment::Developer);
        assert!(c.change_keys);
        assert_eq!(c.customer_events.page_size, 500);
        let shown = record(&c, Some(34), "api", Some(0), Some(0)).to_string();
        assert!(shown.contains("\"id\":34,"), "{shown}");
        assert!(shown.contains("\"hasPrivateKey\":true"));
        assert!(
            !shown.contains("PRIVATE KEY") && !shown.contains(pem().lines().nth(1).unwrap()),
            "{shown}"
        );
    }

    #[test]
    fn invalid_data_names_the_key() {
        let mut r = request();
        r["customerEvents"]["pageSize"] = json!(5000);
        let s = merge_settings(&Map::new(), "acme", None, Some(&r)).unwrap();
        let e = to_config(&s, &[], &ApiPolicy::default()).unwrap_err();
        assert!(e.contains("data.customer_events.page_size"), "{e}");
        let s = merge_settings(
            &Map::new(),
            "acme",
            None,
            Some(&json!({"environment": "stage"})),
        )
        .unwrap();
        let e = to_config(&s, &[], &ApiPolicy::default()).unwrap_err();
        assert!(e.contains("integration_key"), "{e}");
        let s = merge_settings(&Map::new(), "Bad Name", None, Some(&request())).unwrap();
        assert!(to_config(&s, &[], &ApiPolicy::default())
            .unwrap_err()
            .contains("name"));
    }

    #[test]
    fn a_name_of_the_file_is_refused() {
        let s = merge_settings(&Map::new(), "acme", None, Some(&request())).unwrap();
        let file = to_config(&s, &[], &ApiPolicy::default()).unwrap();
        let e = to_config(&s, &[file], &ApiPolicy::default()).unwrap_err();
        assert!(e.starts_with("name:") && e.contains("\"acme\""), "{e}");
    }

    #[test]
    fn a_key_file_is_refused_before_it_is_read() {
        let mut r = request();
        r["privateKeyFile"] = json!("/nonexistent/secret.pem");
        let s = merge_settings(&Map::new(), "acme", None, Some(&r)).unwrap();
        let e = to_config(&s, &[], &ApiPolicy::default()).unwrap_err();
        assert!(e.starts_with("data.private_key_file:"), "{e}");
        assert!(!e.contains("/nonexistent"), "{e}");
    }

    #[test]
    fn patching_merges_and_nulls_remove() {
        let s = merge_settings(&Map::new(), "acme", None, Some(&request())).unwrap();
        let p = merge_settings(
            &s,
            "acme",
            Some("inactive"),
            Some(&json!({"changeKeys": false, "organizationId": null})),
        )
        .unwrap();
        assert_eq!(p["change_keys"], false);
        assert!(p.get("organization_id").is_none());
        assert_eq!(p["status"], "inactive");
        assert_eq!(p["integration_key"], "ik");
    }
}
