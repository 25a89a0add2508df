//! The local HTTP API of a running daemon.

mod common;

use common::*;
use serde_json::Value;

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
        eventually(60, || complete_lines(&path) >= 300).await,
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

    // The events counter is raised just after the sinks' write and the cursor's save: the file
    // can be complete a moment before the counter.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = get("/metrics", false).await.unwrap().text().await.unwrap();
        if metrics.contains("docusign_collector_events_total{") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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

    let access_token: String = cached_token(&env);
    let key_line = key_pair().0.lines().nth(1).unwrap().to_string();
    for text in [&body, &one, &metrics] {
        assert!(!text.contains(&access_token), "access token leaked");
        assert!(!text.contains(&key_line), "key material leaked");
        assert!(!text.contains("local-api-secret"));
    }
    sigterm(&child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_are_managed_through_the_api_and_survive_a_restart() {
    let mut env = Env::start(sim_config(200)).await;
    let port = free_port();
    env.extra = env.api_table(port, true);
    let mut daemon = env.spawn(&["run"]);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{base}{path}"))
            .bearer_auth("t0k");
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    wait_for_api(&http, &base).await;
    let data = api_integration_data(&env);

    // A bad request names the key; no token → 401.
    let mut bad = data.clone();
    bad["customerEvents"]["pageSize"] = serde_json::json!(5000);
    let r = send(
        reqwest::Method::POST,
        "/integrations",
        Some(serde_json::json!({"integration": 8, "name": "beta", "data": bad})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("data.customer_events.page_size"));
    let r = http
        .post(format!("{base}/integrations"))
        .json(&serde_json::json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Create: the seed's record shape, never the key; the new integration collects.
    let r = send(
        reqwest::Method::POST,
        "/integrations",
        Some(serde_json::json!({"integration": 8, "name": "beta", "data": data})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains(key_pair().0.lines().nth(1).unwrap()),
        "key material in the answer"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["id"].is_i64(), "an integer id: {v}");
    assert_eq!(v["name"], "beta");
    assert_eq!(v["status"], "active");
    assert_eq!(v["data"]["environment"], "stage");
    assert_eq!(v["data"]["changeKeys"], false);
    assert_eq!(v["data"]["hasPrivateKey"], true);
    assert_eq!(v["integration"]["id"], 8);
    assert!(v["created_at"].is_string() && v["updated_at"].is_string());
    assert_eq!(
        send(
            reqwest::Method::POST,
            "/integrations",
            Some(serde_json::json!({"name": "beta", "data": data}))
        )
        .await
        .unwrap()
        .status(),
        409
    );
    let path = env.events_path();
    let beta_events = |p: &std::path::Path| {
        read_jsonl(p)
            .iter()
            .filter(|e| e["_integration"] == "beta")
            .count()
    };
    assert!(
        eventually(60, || beta_events(&path) >= 200).await,
        "beta collected"
    );

    // The file's integration is read-only here; its actions work.
    assert_eq!(
        send(
            reqwest::Method::PATCH,
            "/integrations/acme",
            Some(serde_json::json!({"status": "inactive"}))
        )
        .await
        .unwrap()
        .status(),
        409
    );
    let r: Value = send(
        reqwest::Method::POST,
        "/integrations/acme/consent-url",
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(r["url"]
        .as_str()
        .unwrap()
        .contains(&format!("client_id={INTEGRATION_KEY}")));
    let r: Value = send(reqwest::Method::POST, "/integrations/acme/test", None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    let r: Value = send(reqwest::Method::DELETE, "/integrations/acme/token", None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["forgotten"], true);

    // Deactivate, then fetch is refused; reactivate and fetch on demand picks up new events.
    let r: Value = send(
        reqwest::Method::PATCH,
        "/integrations/beta",
        Some(serde_json::json!({"status": "inactive"})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["status"], "inactive");
    assert_eq!(
        send(reqwest::Method::POST, "/integrations/beta/fetch", None)
            .await
            .unwrap()
            .status(),
        409
    );
    let r = send(
        reqwest::Method::PATCH,
        "/integrations/beta",
        Some(
            serde_json::json!({"status": "active", "data": {"customerEvents": {"interval": "1h"}}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    env.sim.append_events(10);
    assert_eq!(
        send(reqwest::Method::POST, "/integrations/beta/fetch", None)
            .await
            .unwrap()
            .status(),
        202
    );
    assert!(
        eventually(30, || beta_events(&path) >= 210).await,
        "fetch on demand collected the new events"
    );

    // Restart: beta is still there (stored in the state database).
    sigterm(&daemon);
    let _ = daemon.wait().await;
    daemon = env.spawn(&["run"]);
    wait_for_api(&http, &base).await;
    let r = send(reqwest::Method::GET, "/integrations/beta", None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["customerEvents"]["interval"], "1h");
    let state = env.run(&["state", "--json"], &[]).await;
    let s: Value = serde_json::from_slice(&state.stdout).unwrap();
    assert!(
        s.as_array().unwrap().iter().any(|i| i["name"] == "beta"),
        "state shows API integrations: {s}"
    );

    // Delete.
    assert_eq!(
        send(reqwest::Method::DELETE, "/integrations/beta", None)
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        send(reqwest::Method::GET, "/integrations/beta", None)
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        send(reqwest::Method::DELETE, "/integrations/acme", None)
            .await
            .unwrap()
            .status(),
        409
    );
    sigterm(&daemon);
    let _ = daemon.wait().await;
}
