//! The API's contract: the OpenAPI 3.1 document (src/api/openapi.json), served at
//! `GET /openapi.json` without a token, and what keeps the server inside it.
//!
//! The document is written by hand beside the code rather than generated (no new crate, and
//! the descriptions, examples and links read as documentation). What keeps the two together:
//! - the unit tests below: the router's table ([`super::routes`]) and the document's operations
//!   are the same set, the open paths are exactly those the document marks `security: []`,
//!   every other operation documents its 401 and 403, every `$ref` resolves, and no answer
//!   schema has a field for a key or token;
//! - scripts/contract: schemathesis against a running collector, every answer validated
//!   against the document, and a client generated from it.
//!
//! [`Segment`] makes a path segment that is not UTF-8 once percent-decoded a JSON 400 like
//! every other error, instead of axum's plain-text rejection.

use super::{error, Ctx, Fail};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The document, as served.
pub(super) const OPENAPI: &str = include_str!("openapi.json");

pub(super) async fn document() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

/// The `{id}` of a path: the text of the segment, percent-decoded.
pub(super) struct Segment(pub String);

impl FromRequestParts<Ctx> for Segment {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, state: &Ctx) -> Result<Self, Fail> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(s)) => Ok(Segment(s)),
            Err(e) => Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the integration in the path cannot be read: {}",
                    e.body_text()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{routes, OPEN_PATHS};
    use super::OPENAPI;
    use serde_json::Value;
    use std::collections::BTreeSet;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn doc() -> Value {
        serde_json::from_str(OPENAPI).expect("src/api/openapi.json is JSON")
    }

    /// Every (method, path) the document describes.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    out.push((m.to_string(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn the_document_and_the_router_have_the_same_routes() {
        let doc = doc();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        let documented: BTreeSet<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(m, p, _)| (m, p))
            .collect();
        let routed: BTreeSet<(String, String)> = routes()
            .into_iter()
            .map(|(m, p, _)| (m.as_str().to_ascii_lowercase(), p.to_string()))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routed but not in openapi.json: {undocumented:?}; in openapi.json but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn open_paths_are_those_without_security_and_the_rest_answer_401_and_403() {
        let doc = doc();
        assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
        assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
        let mut open = BTreeSet::new();
        for (m, path, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{m} {path} has no operationId");
            if op.get("security") == Some(&serde_json::json!([])) {
                open.insert(path);
            } else {
                for status in ["401", "403"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{m} {path} needs the token but documents no {status}"
                    );
                }
            }
        }
        let expected: BTreeSet<String> = OPEN_PATHS.iter().map(|p| p.to_string()).collect();
        assert_eq!(open, expected);
    }

    /// Every `{"$ref": "#/…"}` in `v`.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = doc();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 20, "{all:?}");
        for r in all {
            let pointer = r.strip_prefix('#').expect("a local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    /// The names of the properties anywhere under `v`, with whether each is writeOnly.
    fn properties(v: &Value, out: &mut Vec<(String, bool)>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get("properties") {
                    for (k, p) in props {
                        out.push((k.clone(), p["writeOnly"] == true));
                    }
                }
                m.values().for_each(|x| properties(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| properties(x, out)),
            _ => {}
        }
    }

    #[test]
    fn keys_and_tokens_are_write_only_and_no_answer_has_one() {
        let doc = doc();
        let secret = |k: &str| {
            let k = k.to_ascii_lowercase();
            (k.contains("key")
                && !k.starts_with("has")
                && !k.contains("integration")
                && !k.contains("change"))
                || (k.contains("token") && !k.contains("expires"))
                || k.contains("password")
        };
        let mut all = Vec::new();
        properties(&doc["components"]["schemas"], &mut all);
        let secrets: Vec<_> = all.iter().filter(|(k, _)| secret(k)).collect();
        assert!(
            secrets.iter().any(|(k, _)| k == "privateKey"),
            "{secrets:?}"
        );
        for (k, write_only) in &secrets {
            assert!(write_only, "{k} is a secret and not writeOnly");
        }
        // The answer schemas hold no such field, writeOnly or not.
        for answer in [
            "Integration",
            "SettingsView",
            "Stream",
            "Readiness",
            "Error",
        ] {
            let mut fields = Vec::new();
            properties(&doc["components"]["schemas"][answer], &mut fields);
            assert!(
                !fields.iter().any(|(k, _)| secret(k)),
                "{answer}: {fields:?}"
            );
        }
    }
}
