//! Private keys of integrations created through the API are sealed at rest (AES-256-GCM):
//! refused without a seal key, sealed on first start with one, never in the database files.

mod common;

use common::*;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use serde_json::{json, Value};

/// Byte strings that must not appear in the state files: a line of the PEM body, the DER, and
/// the private exponent.
fn needles() -> Vec<Vec<u8>> {
    use rsa::traits::PrivateKeyParts;
    let pem = &key_pair().0;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem).unwrap();
    let der = key.to_pkcs1_der().unwrap().as_bytes().to_vec();
    vec![
        pem.lines().nth(3).unwrap().as_bytes().to_vec(),
        der[40..104].to_vec(),
        key.d().to_bytes_be()[..64].to_vec(),
    ]
}

fn assert_no_plain_key(env: &Env) {
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", env.state_path().display());
        let bytes = std::fs::read(&path).unwrap_or_default();
        for n in needles() {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_slice()),
                "plain key bytes in {path}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_sealed_at_rest_and_still_collect_after_a_restart() {
    let mut env = Env::start(sim_config(100)).await;
    let port = free_port();
    let data = json!({
        "environment": "stage", "integrationKey": INTEGRATION_KEY, "userId": USER_ID,
        "privateKey": key_pair().0, "accountId": env.sim_config.account_id,
        "eventTypes": ["customer_events"],
        "customerEvents": {"interval": "1s", "startFrom": "30d"},
        "rateLimit": {"perHour": 1000000, "burst": 10000},
        "endpoints": {"oauth": env.sim.base_url(), "monitor": env.sim.base_url(), "admin": env.sim.admin_url()},
    });
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let create = |name: &str| {
        http.post(format!("{base}/integrations"))
            .bearer_auth("t0k")
            .json(&json!({"integration": 8, "name": name, "data": data}))
            .send()
    };

    // A row an earlier version stored in the clear.
    let settings = json!({"name": "legacy", "environment": "developer", "status": "inactive",
        "integration_key": INTEGRATION_KEY, "user_id": USER_ID, "private_key": key_pair().0,
        "account_id": env.sim_config.account_id, "event_types": ["customer_events"],
        "endpoints": {"oauth": env.sim.base_url(), "monitor": env.sim.base_url(), "admin": env.sim.admin_url()}});
    docusign_collector::state::State::open(&env.state_path())
        .unwrap()
        .save_managed_integration("legacy", &settings.to_string())
        .unwrap();

    // Without a seal key the API refuses a private key and says what to configure.
    env.extra = env.api_table(port, false);
    let mut daemon = env.spawn(&["run"]);
    wait_for_api(&http, &base).await;
    let r = create("beta").await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("seal_key_file"));
    let _ = terminate(&mut daemon).await;

    // With one: the legacy row is sealed on start, beta is created sealed and collects.
    env.extra = env.api_table(port, true);
    let mut daemon = env.spawn(&["run"]);
    wait_for_api(&http, &base).await;
    let r = create("beta").await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let beta = |env: &Env| {
        env.events()
            .iter()
            .filter(|e| e["_integration"] == "beta")
            .count()
    };
    assert!(eventually(60, || beta(&env) >= 100).await, "beta collects");
    assert_no_plain_key(&env);
    let _ = terminate(&mut daemon).await;
    assert_no_plain_key(&env);

    // After a restart the sealed integrations are opened and beta goes on collecting.
    env.sim.append_events(20);
    let mut daemon = env.spawn(&["run"]);
    wait_for_api(&http, &base).await;
    assert!(
        eventually(60, || beta(&env) >= 120).await,
        "beta collects after a restart"
    );
    let v: Value = http
        .get(format!("{base}/integrations/legacy"))
        .bearer_auth("t0k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["hasPrivateKey"], true, "{v}");
    let _ = terminate(&mut daemon).await;
    assert_no_plain_key(&env);
}
