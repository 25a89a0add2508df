//! The local API's contract (src/api/openapi.json) as the built binary serves it: the document
//! at `GET /openapi.json` without a token (and without `token_file`), every documented operation
//! answering only statuses it documents, with and without the token, and a path segment that
//! cannot be read answering in the document's error shape. schemathesis goes much further
//! (scripts/contract); this keeps the basics inside `cargo test`.

mod common;

use common::api::{Client, Daemon};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const DOCUMENT: &str = include_str!("../src/api/openapi.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_without_a_token_even_without_token_file() {
    let mut env = Env::start(sim_config(10)).await;
    let port = free_port();
    env.extra = format!("[api]\nlisten = \"127.0.0.1:{port}\"\n");
    let d = Daemon::start(&env, "run.log").await;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_for_api(&http, &base).await;
    let r = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let served = r.text().await.unwrap();
    assert_eq!(served, DOCUMENT);
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // The rest stays closed.
    let r = http
        .get(format!("{base}/integrations"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    d.stop().await;
}

/// A concrete path for a documented one: `{id}` is the file's integration.
fn concrete(path: &str) -> String {
    path.replace("{id}", "acme")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_a_documented_status_with_and_without_the_token() {
    let mut env = Env::start(sim_config(10)).await;
    let port = free_port();
    env.extra = env.api_table(port, true);
    let d = Daemon::start(&env, "run.log").await;
    let c = Client::new(port).await;
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // Path-level `parameters` sit beside the methods.
            if method == "parameters" {
                continue;
            }
            let m: Method = method.to_ascii_uppercase().parse().unwrap();
            let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            let open = op.get("security") == Some(&json!([]));
            let body = matches!(m, Method::POST | Method::PATCH).then(|| json!({}));
            // With the token: a status the document lists.
            let (status, answer) = c.send(m.clone(), &concrete(path), body.clone()).await;
            assert!(
                documented.contains(&&status.to_string()),
                "{method} {path}: {status} is not among {documented:?}: {answer}"
            );
            if status >= 400 {
                assert!(answer["error"].is_string(), "{method} {path}: {answer}");
            }
            // Without: the open paths answer, the others 401 with the error body.
            let mut req = c
                .http
                .request(m.clone(), format!("{}{}", c.base, concrete(path)));
            if let Some(b) = &body {
                req = req.json(b);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            if open {
                assert!(
                    documented.contains(&&status.to_string()),
                    "{method} {path} without a token: {status}"
                );
            } else {
                assert_eq!(status, 401, "{method} {path} without a token");
                let answer: Value = r.json().await.unwrap();
                assert!(answer["error"].is_string(), "{answer}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 13, "every operation of the document was tried");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_is_not_utf8_is_a_json_400() {
    let mut env = Env::start(sim_config(10)).await;
    let port = free_port();
    env.extra = env.api_table(port, true);
    let d = Daemon::start(&env, "run.log").await;
    let c = Client::new(port).await;
    for (m, path) in [
        (Method::GET, "/integrations/%FF"),
        (Method::PATCH, "/integrations/%C3%28"),
        (Method::POST, "/integrations/%FF/fetch"),
    ] {
        let body = (m == Method::PATCH).then(|| json!({}));
        let (status, answer) = c.send(m.clone(), path, body).await;
        assert_eq!(status, 400, "{m} {path}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot be read")),
            "{m} {path}: {answer}"
        );
    }
    d.stop().await;
}
