//! The local API has least privilege: nothing but health, readiness and metrics without a token;
//! integrations created through it carry their key inline, name no file, proxy or `insecure`,
//! and talk only to Docusign's endpoints or origins the operator listed; names are unique
//! across the file and the API; ids are stable integers; sealed rows are bound to their
//! integration's name, and the seal key can be rotated.

mod common;

use common::api::{api, Client, Daemon};
use common::*;
use docusign_collector::state::State;
use reqwest::Method;
use serde_json::{json, Value};

fn count(env: &Env, name: &str) -> usize {
    env.events()
        .iter()
        .filter(|e| e["_integration"] == name)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_only_health_readiness_and_metrics_answer() {
    let mut env = Env::start(sim_config(10)).await;
    let port = free_port();
    env.extra = format!("[api]\nlisten = \"127.0.0.1:{port}\"\n");
    // As a container platform mounts a secret: readable by all. Warned about, not refused.
    let key = env.path("key.pem");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let d = Daemon::start(&env, "run.log").await;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_for_api(&http, &base).await;
    for path in ["/healthz", "/metrics"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert!(matches!(r.status().as_u16(), 200 | 503), "{}", r.status());
    let data = api_integration_data(&env);
    let create = json!({"integration": 8, "name": "beta", "data": data});
    let refused = [
        (Method::GET, "/integrations", None),
        (Method::GET, "/integrations/acme", None),
        (Method::POST, "/integrations", Some(create)),
        (
            Method::PATCH,
            "/integrations/acme",
            Some(json!({"status": "inactive"})),
        ),
        (Method::DELETE, "/integrations/acme", None),
        (Method::POST, "/integrations/acme/consent-url", None),
        (Method::DELETE, "/integrations/acme/token", None),
        (Method::POST, "/integrations/acme/test", None),
        (Method::POST, "/integrations/acme/fetch", None),
        (Method::GET, "/no-such-path", None),
        (Method::PUT, "/integrations", None),
    ];
    for (method, path, body) in refused {
        // A bearer token of any value changes nothing: there is none to match.
        let mut req = http
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth("guess");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        let text = r.text().await.unwrap();
        assert!(text.contains("api.token_file"), "{method} {path}: {text}");
    }
    let log = d.log();
    let warning = log
        .lines()
        .find(|l| l.contains("readable by its group or others"))
        .unwrap_or_else(|| panic!("no warning about the key file: {log}"));
    assert!(
        warning.contains(&key.display().to_string()) && warning.contains("0644"),
        "{warning}"
    );
    assert_eq!(
        log.matches("readable by its group or others").count(),
        1,
        "once"
    );
    for line in key_pair().0.lines().skip(1).take(3) {
        assert!(!log.contains(line), "key material in the log");
    }
    d.stop().await;
    assert!(
        !State::open(&env.state_path())
            .unwrap()
            .managed_integrations()
            .unwrap()
            .iter()
            .any(|m| m.name == "beta"),
        "nothing was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_integrations_carry_their_key_and_use_only_allowed_endpoints() {
    let mut env = Env::start(sim_config(50)).await;
    let port = free_port();
    env.extra = api(&env, port, &[0x5a], false);
    let d = Daemon::start(&env, "run1.log").await;
    let c = Client::new(port).await;
    let data = api_integration_data(&env);
    let key_line = key_pair().0.lines().nth(1).unwrap().to_string();
    let with = |patch: Value| {
        let mut d = data.clone();
        for (k, v) in patch.as_object().unwrap() {
            d[k] = v.clone();
        }
        d
    };
    let key_file = env.path("key.pem").display().to_string();
    let refusals = [
        (
            with(json!({"privateKey": null, "privateKeyFile": key_file})),
            "data.private_key_file",
        ),
        (with(json!({"http": {"insecure": true}})), "data.http.insecure"),
        (
            with(json!({"http": {"proxy": "http://127.0.0.1:9"}})),
            "data.http.proxy",
        ),
        (with(json!({"http": {"caFile": key_file}})), "data.http.ca_file"),
        // The simulator is not Docusign, and its origin is not listed yet.
        (data.clone(), "data.endpoints.oauth"),
        (
            with(json!({"endpoints": {"oauth": "https://account-d.docusign.com",
                "monitor": "https://evil.example/x", "admin": "https://api-d.docusign.net/management"}})),
            "data.endpoints.monitor: https://evil.example is not Docusign's developer Monitor endpoint",
        ),
    ];
    for (body, key) in refusals {
        let (status, answer) = c.create("beta", &body).await;
        assert_eq!(status, 400, "{key}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.starts_with(key), "{key}: {message}");
        assert!(!message.contains(&key_line), "no key material: {message}");
    }
    d.stop().await;

    // With the simulator's origin listed: created, and it collects.
    env.extra = api(&env, port, &[0x5a], true);
    let d = Daemon::start(&env, "run2.log").await;
    let c = Client::new(port).await;
    let (status, answer) = c.create("beta", &data).await;
    assert_eq!(status, 201, "{answer}");
    assert!(
        eventually(60, || count(&env, "beta") >= 50).await,
        "beta collects"
    );
    // A PATCH is held to the same rules.
    let (status, answer) = c
        .send(
            Method::PATCH,
            "/integrations/beta",
            Some(json!({"data": {"http": {"insecure": true}}})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    d.stop().await;

    // The operator removes the origin: at start beta is left out, named in the log and /readyz.
    env.extra = api(&env, port, &[0x5a], false);
    let d = Daemon::start(&env, "run3.log").await;
    let c = Client::new(port).await;
    let ready = c.left_out("beta").await;
    assert!(ready.to_string().contains("allowed_endpoints"), "{ready}");
    let (status, _) = c.send(Method::GET, "/integrations/beta", None).await;
    assert_eq!(status, 404, "not served");
    let log = d.log();
    assert!(
        log.contains("beta") && log.contains("left out") && log.contains("allowed_endpoints"),
        "{log}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_across_the_file_and_the_api() {
    let mut env = Env::start(sim_config(10)).await;
    let port = free_port();
    env.extra = api(&env, port, &[0x5a], true);
    let d = Daemon::start(&env, "run1.log").await;
    let c = Client::new(port).await;
    let data = api_integration_data(&env);
    let (status, answer) = c.create("acme", &data).await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("configuration file"),
        "{answer}"
    );
    let (status, answer) = c.create("beta", &data).await;
    assert_eq!(status, 201, "{answer}");
    d.stop().await;

    // The file now defines "beta" too: the file's is served, the stored one left out.
    let file_beta = format!(
        "\n[[integrations]]\nname = \"beta\"\nenvironment = \"developer\"\nintegration_key = \"{INTEGRATION_KEY}\"\nuser_id = \"{USER_ID}\"\nprivate_key_file = \"{}\"\nstatus = \"inactive\"\n",
        env.path("key.pem").display()
    );
    env.extra.push_str(&file_beta);
    let state = env.run(&["state", "--json"], &[]).await;
    assert_success(&state);
    let err = stderr(&state);
    assert!(
        err.contains("beta") && err.contains("configuration file also defines"),
        "{err}"
    );
    let d = Daemon::start(&env, "run2.log").await;
    let c = Client::new(port).await;
    c.left_out("beta").await;
    let (status, one) = c.send(Method::GET, "/integrations/beta", None).await;
    assert_eq!(
        (status, one["source"].as_str()),
        (200, Some("config")),
        "{one}"
    );
    // DELETE removes the stored row; the file's integration stays.
    let (status, _) = c.send(Method::DELETE, "/integrations/beta", None).await;
    assert_eq!(status, 204);
    let (_, ready) = c.send(Method::GET, "/readyz", None).await;
    assert!(ready.get("left_out").is_none(), "{ready}");
    let (status, _) = c.send(Method::GET, "/integrations/beta", None).await;
    assert_eq!(status, 200, "the file's beta is still there");
    assert!(d.log().contains("configuration file also defines"));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_stable_integers_and_address_integrations() {
    let mut env = Env::start(sim_config(10)).await;
    let port = free_port();
    env.extra = api(&env, port, &[0x5a], true);
    let d = Daemon::start(&env, "run1.log").await;
    let c = Client::new(port).await;
    let (status, beta) = c.create("beta", &api_integration_data(&env)).await;
    assert_eq!(status, 201, "{beta}");
    let (_, list) = c.send(Method::GET, "/integrations", None).await;
    let ids: Vec<(String, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                i["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert_ne!(ids[0].1, ids[1].1);
    for (name, id) in &ids {
        for path in [
            format!("/integrations/{id}"),
            format!("/integrations/{name}"),
        ] {
            let (status, one) = c.send(Method::GET, &path, None).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(
                (&one["name"], one["id"].as_i64()),
                (&json!(name), Some(*id))
            );
        }
    }
    let (status, _) = c.send(Method::GET, "/integrations/name:acme", None).await;
    assert_eq!(status, 200);
    let (status, _) = c.send(Method::GET, "/integrations/999999", None).await;
    assert_eq!(status, 404);
    // Actions by id: the consent URL of beta.
    let beta_id = ids.iter().find(|(n, _)| n == "beta").unwrap().1;
    let (status, consent) = c
        .send(
            Method::POST,
            &format!("/integrations/{beta_id}/consent-url"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{consent}");
    d.stop().await;

    // After a restart (and a deleted and re-created beta) every id is the same.
    let d = Daemon::start(&env, "run2.log").await;
    let c = Client::new(port).await;
    let (status, _) = c
        .send(Method::DELETE, &format!("/integrations/{beta_id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, again) = c.create("beta", &api_integration_data(&env)).await;
    assert_eq!(status, 201);
    assert_eq!(again["id"].as_i64(), Some(beta_id), "{again}");
    for (name, id) in &ids {
        let (_, one) = c
            .send(Method::GET, &format!("/integrations/{name}"), None)
            .await;
        assert_eq!(one["id"].as_i64(), Some(*id), "{name}");
    }
    d.stop().await;
    let state = env.run(&["state", "--json"], &[]).await;
    let s: Value = serde_json::from_slice(&state.stdout).unwrap();
    for (name, id) in &ids {
        let entry = s.as_array().unwrap().iter().find(|i| &i["name"] == name);
        assert_eq!(entry.and_then(|e| e["id"].as_i64()), Some(*id), "{s}");
    }
}

/// The stored (sealed) settings of every API integration, read with the `sqlite3` program:
/// the test looks at the rows as an attacker with the database file would.
fn sqlite3(env: &Env, sql: &str) -> Option<String> {
    let out = std::process::Command::new("sqlite3")
        .arg(env.state_path())
        .arg(sql)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_row_copied_onto_another_integration_does_not_open() {
    if sqlite3_missing() {
        return;
    }
    let mut env = Env::start(sim_config(10)).await;
    let port = free_port();
    env.extra = api(&env, port, &[0x5a], true);
    let d = Daemon::start(&env, "run1.log").await;
    let c = Client::new(port).await;
    for name in ["beta", "gamma"] {
        let (status, answer) = c.create(name, &api_integration_data(&env)).await;
        assert_eq!(status, 201, "{answer}");
    }
    d.stop().await;
    let rows = sqlite3(&env, "SELECT data FROM managed_integrations").unwrap();
    assert!(rows.lines().all(|l| l.starts_with("sealed:v2:")), "{rows}");
    sqlite3(
        &env,
        "UPDATE managed_integrations SET data = (SELECT data FROM managed_integrations \
         WHERE name = 'beta') WHERE name = 'gamma'",
    );

    let d = Daemon::start(&env, "run2.log").await;
    let c = Client::new(port).await;
    let ready = c.left_out("gamma").await;
    assert!(ready.to_string().contains("another integration"), "{ready}");
    assert!(d.log().contains("gamma"), "logged");
    let (status, _) = c.send(Method::GET, "/integrations/beta", None).await;
    assert_eq!(status, 200, "beta's own row opens");
    let (status, _) = c.send(Method::GET, "/integrations/gamma", None).await;
    assert_eq!(status, 404);
    let (status, _) = c.send(Method::DELETE, "/integrations/gamma", None).await;
    assert_eq!(status, 204, "a row that does not open can be deleted");
    let (_, ready) = c.send(Method::GET, "/readyz", None).await;
    assert!(ready.get("left_out").is_none(), "{ready}");
    d.stop().await;
}

fn sqlite3_missing() -> bool {
    let missing = std::process::Command::new("sqlite3")
        .arg("-version")
        .output()
        .is_err();
    if missing {
        eprintln!("skipped: the sqlite3 program is not installed");
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seal_key_rotates_with_the_previous_key_beside_it() {
    let (a, b) = (0x5a, 0xb7);
    let mut env = Env::start(sim_config(20)).await;
    let port = free_port();
    env.extra = api(&env, port, &[a], true);
    let d = Daemon::start(&env, "run1.log").await;
    let c = Client::new(port).await;
    let (status, answer) = c.create("beta", &api_integration_data(&env)).await;
    assert_eq!(status, 201, "{answer}");
    assert!(
        eventually(60, || count(&env, "beta") >= 20).await,
        "beta collects"
    );
    d.stop().await;

    // Key B, with A as the previous key: beta opens, is resealed under B, and collects.
    env.extra = api(&env, port, &[b, a], true);
    env.sim.append_events(10);
    let d = Daemon::start(&env, "run2.log").await;
    let c = Client::new(port).await;
    let (status, _) = c.send(Method::GET, "/integrations/beta", None).await;
    assert_eq!(status, 200);
    assert!(
        eventually(60, || count(&env, "beta") >= 30).await,
        "beta collects under the new key"
    );
    d.stop().await;

    // B alone: still there (resealed at the last start), still collecting.
    env.extra = api(&env, port, &[b], true);
    env.sim.append_events(10);
    let d = Daemon::start(&env, "run3.log").await;
    let c = Client::new(port).await;
    let (status, _) = c.send(Method::GET, "/integrations/beta", None).await;
    assert_eq!(status, 200);
    assert!(
        eventually(60, || count(&env, "beta") >= 40).await,
        "beta collects with the new key alone"
    );
    d.stop().await;

    // A alone no longer opens it: left out, and readiness says so.
    env.extra = api(&env, port, &[a], true);
    let d = Daemon::start(&env, "run4.log").await;
    let c = Client::new(port).await;
    let ready = c.left_out("beta").await;
    assert!(ready.to_string().contains("seal_key_file"), "{ready}");
    d.stop().await;
}
