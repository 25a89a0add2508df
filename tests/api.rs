//! The local HTTP API of a running daemon.

mod common;

use common::*;
use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_integrations_never_show_a_secret() {
    let mut env = Env::start(sim_config(300)).await;
    let port = free_port();
    let token_file = env.path("api-token");
    std::fs::write(&token_file, "local-api-secret\n").unwrap();
    env.extra = format!(
        "[api]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\n",
        token_file.display()
    );
    let child = env.spawn(&["run"]);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let get = |path: &str, auth: bool| {
        let mut req = http.get(format!("{base}{path}"));
        if auth {
            req = req.bearer_auth("local-api-secret");
        }
        req.send()
    };
    let path = env.events_path();
    assert!(
        eventually(60, || read_jsonl(&path).len() >= 300).await,
        "collected"
    );

    assert_eq!(get("/healthz", false).await.unwrap().status(), 200);
    let mut ready = false;
    for _ in 0..100 {
        if get("/readyz", false)
            .await
            .map(|r| r.status() == 200)
            .unwrap_or(false)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "ready once a cycle succeeded");

    let metrics = get("/metrics", false).await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("docusign_collector_events_total{"),
        "{metrics}"
    );
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(line.starts_with("docusign_collector_"), "{line}");
    }

    assert_eq!(get("/integrations", false).await.unwrap().status(), 401);
    let list = get("/integrations", true).await.unwrap();
    assert_eq!(list.status(), 200);
    let body = list.text().await.unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["name"], "acme");
    assert_eq!(v[0]["status"], "active");
    assert_eq!(v[0]["integration"]["slug"], "docusign");
    assert!(v[0]["streams"][0]["cursor"].is_string());
    let one = get("/integrations/acme", true).await.unwrap();
    assert_eq!(one.status(), 200);
    let one = one.text().await.unwrap();
    assert_eq!(get("/integrations/nope", true).await.unwrap().status(), 404);

    let access_token: String = rusqlite::Connection::open(env.state_path())
        .unwrap()
        .query_row("SELECT access_token FROM tokens", [], |r| r.get(0))
        .unwrap();
    let key_line = key_pair().0.lines().nth(1).unwrap().to_string();
    for text in [&body, &one, &metrics] {
        assert!(!text.contains(&access_token), "access token leaked");
        assert!(!text.contains(&key_line), "key material leaked");
        assert!(!text.contains("local-api-secret"));
    }
    sigterm(&child);
}
