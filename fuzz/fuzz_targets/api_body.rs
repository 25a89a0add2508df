//! The local API's request bodies: `POST /integrations` (settings from nothing) and
//! `PATCH /integrations/{id}` (settings merged over a valid integration), then validation.
//! Never a panic; an accepted body gives an integration with the name it was created under.
//! Bodies naming /dev, /proc or /sys are skipped (see the config target).
#![no_main]

use docusign_collector::integrations::managed::{merge_settings, to_config};
use docusign_collector::integrations::policy::ApiPolicy;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// The stored settings of a valid integration (what a PATCH is merged over).
fn base() -> &'static Map<String, Value> {
    static BASE: OnceLock<Map<String, Value>> = OnceLock::new();
    BASE.get_or_init(|| {
        let (private, _) = docusign_sim::generate_key_pair().expect("a key pair");
        let v = json!({
            "name": "beta", "environment": "developer", "integration_key": "ik",
            "user_id": "u", "private_key": private, "account_id": "a",
            "organization_id": "o", "event_types": ["customer_events", "audit_users"],
        });
        v.as_object().cloned().expect("an object")
    })
}

fuzz_target!(|body: &[u8]| {
    if [&b"/dev"[..], b"/proc", b"/sys"]
        .iter()
        .any(|p| body.windows(p.len()).any(|w| w == *p))
    {
        return;
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let name = req.get("name").and_then(Value::as_str).unwrap_or("beta");
    let status = req.get("status").and_then(Value::as_str);
    let data = req.get("data");
    for start in [&Map::new(), base()] {
        let Ok(settings) = merge_settings(start, name, status, data) else {
            continue;
        };
        if let Ok(cfg) = to_config(&settings, &[], &ApiPolicy::default()) {
            assert_eq!(cfg.name, name);
        }
    }
});
