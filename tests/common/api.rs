//! Helpers for tests of the local API: a daemon whose log is kept, an `[api]` table with seal
//! keys, and a client with the test token.

use super::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// A running daemon whose stderr goes to a file (the log is read by the tests).
pub struct Daemon {
    pub child: tokio::process::Child,
    pub log: PathBuf,
}

impl Daemon {
    pub async fn start(env: &Env, log_name: &str) -> Daemon {
        let config = env.write_config();
        let log = env.path(log_name);
        let err = std::fs::File::create(&log).expect("log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("collector starts");
        Daemon { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn stop(mut self) {
        let (status, _) = terminate(&mut self.child).await;
        assert!(status.success(), "{status:?}\n{}", self.log());
    }
}

/// An `[api]` table on `port` with the token `t0k`; `seal` names seal key files (current,
/// previous…) written with the given byte; `allowed` lists the simulator's origin.
pub fn api(env: &Env, port: u16, seal: &[u8], allowed: bool) -> String {
    let mut t = env.api_table(port, false);
    if !allowed {
        t = t
            .lines()
            .filter(|l| !l.starts_with("allowed_endpoints"))
            .map(|l| format!("{l}\n"))
            .collect();
    }
    let files: Vec<String> = seal
        .iter()
        .map(|b| {
            let p = env.path(&format!("seal-{b:02x}"));
            std::fs::write(&p, format!("{b:02x}").repeat(32)).expect("seal key");
            format!("\"{}\"", p.display())
        })
        .collect();
    if let Some((current, previous)) = files.split_first() {
        t.push_str(&format!("seal_key_file = {current}\n"));
        t.push_str(&format!(
            "previous_seal_key_files = [{}]\n",
            previous.join(", ")
        ));
    }
    t
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub async fn new(port: u16) -> Client {
        let c = Client {
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
        };
        wait_for_api(&c.http, &c.base).await;
        c
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth("t0k");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("answer");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn create(&self, name: &str, data: &Value) -> (u16, Value) {
        self.send(
            Method::POST,
            "/integrations",
            Some(json!({"integration": 8, "name": name, "data": data})),
        )
        .await
    }

    /// `/readyz` once it lists `name` as left out (10 s at most).
    pub async fn left_out(&self, name: &str) -> Value {
        let mut body = Value::Null;
        for _ in 0..100 {
            let r = self.http.get(format!("{}/readyz", self.base)).send().await;
            if let Ok(r) = r {
                let status = r.status().as_u16();
                body = r.json().await.unwrap_or(Value::Null);
                let listed = body["left_out"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|i| i["integration"] == name));
                if listed {
                    assert_eq!(status, 503, "{body}");
                    return body;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("/readyz does not list {name} as left out: {body}");
    }
}
