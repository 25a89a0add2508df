//! No key material in any message: a private key with a damaged BEGIN line, a key pasted where
//! its file's path belongs, and a key pasted into a key of another type, through `check-config`,
//! `once`, the local API and a SIGHUP reload. Every output is searched for every line of the key.

mod common;

use common::*;
use std::time::Duration;

/// The key's body lines (what must never appear anywhere), at least 16 characters each: also
/// their first halves, so a line cut short in a message is caught too.
fn key_lines() -> Vec<String> {
    key_pair()
        .0
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .flat_map(|l| [l.to_string(), l[..l.len() / 2].to_string()])
        .collect()
}

fn assert_no_key(what: &str, text: &str) {
    for line in key_lines() {
        assert!(
            !text.contains(&line),
            "{what} holds a line of the key ({line}):\n{text:.2000}"
        );
    }
}

/// The key with its BEGIN line damaged (four dashes closing it): the parser once took everything
/// up to the next five dashes — the whole key — as the label and quoted it.
fn damaged_key() -> String {
    key_pair()
        .0
        .replacen("PRIVATE KEY-----", "PRIVATE KEY----", 1)
}

fn all_output(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_key_is_named_not_quoted_by_check_config_and_once() {
    let env = Env::start(sim_config(10)).await;
    std::fs::write(env.path("key.pem"), damaged_key()).unwrap();
    for command in ["check-config", "once"] {
        let out = env.run(&[command], &[]).await;
        assert_eq!(out.status.code(), Some(78), "{command}: {}", stderr(&out));
        let text = all_output(&out);
        assert!(
            text.contains("private_key_file") && text.contains("BEGIN"),
            "{command} names the key and the problem: {text}"
        );
        assert_no_key(command, &text);
    }
    // Inline, through the environment, the same.
    let out = env
        .run(
            &["check-config"],
            &[(
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__PRIVATE_KEY",
                damaged_key().as_str(),
            )],
        )
        .await;
    assert_eq!(out.status.code(), Some(78));
    assert_no_key("check-config (environment)", &all_output(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_pasted_into_a_path_or_a_key_of_another_type_is_refused_unseen() {
    let mut env = Env::start(sim_config(0)).await;
    // The key's text where its file's path belongs (through the environment, which overrides
    // the harness's private_key_file): refused as "not a path", never echoed.
    let pem_as_path = key_pair().0.replace('\n', "\\n");
    let out = env
        .run(
            &["check-config"],
            &[(
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__PRIVATE_KEY_FILE",
                key_pair().0.as_str(),
            )],
        )
        .await;
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let text = all_output(&out);
    assert!(
        text.contains("private_key_file") && text.contains("PEM text"),
        "{text}"
    );
    assert_no_key("check-config (key as a path)", &text);
    // Into a token file path of a sink, the same.
    env.extra = format!(
        "[[sinks]]\ntype = \"http\"\nurl = \"http://127.0.0.1:9/in\"\ntoken_file = \"{pem_as_path}\"\n"
    );
    let out = env.run(&["check-config"], &[]).await;
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let text = all_output(&out);
    assert!(text.contains("sinks[1].token_file"), "{text}");
    assert_no_key("check-config (key as a token path)", &text);
    // Into a key of another type: serde's message would quote the value; it is redacted.
    env.extra.clear();
    let out = env
        .run(
            &["check-config"],
            &[(
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__ENVIRONMENT",
                key_pair().0.as_str(),
            )],
        )
        .await;
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let text = all_output(&out);
    assert!(text.contains("environment"), "{text}");
    assert_no_key("check-config (key as the environment)", &text);
}

/// `run` with the API, its stderr kept in `log`.
fn spawn_logged(env: &Env, log: &std::path::Path) -> tokio::process::Child {
    let config = env.write_config();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("collector starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_key_through_the_api_and_a_reload_is_never_quoted() {
    let mut env = Env::start(sim_config(20)).await;
    let port = free_port();
    env.extra = env.api_table(port, true);
    let log = env.path("daemon.log");
    let mut daemon = spawn_logged(&env, &log);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_for_api(&http, &base).await;
    assert!(
        eventually(20, || env.events().len() == 20).await,
        "collects"
    );

    // The API: a damaged privateKey is a 400 that names the key, not its text.
    let mut data = api_integration_data(&env);
    data["privateKey"] = serde_json::json!(damaged_key());
    let r = http
        .post(format!("{base}/integrations"))
        .bearer_auth("t0k")
        .json(&serde_json::json!({"integration": 8, "name": "beta", "data": data}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let answer = r.text().await.unwrap();
    assert!(answer.contains("private_key"), "{answer}");
    assert_no_key("the API's 400", &answer);

    // A reload with the key file damaged: refused; /readyz says why, without the key.
    std::fs::write(env.path("key.pem"), damaged_key()).unwrap();
    send_signal(&daemon, "HUP");
    let mut ready = String::new();
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            ready = r.text().await.unwrap_or_default();
            if ready.contains("last_reload") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready.contains("last_reload"),
        "the refusal is shown: {ready}"
    );
    assert_no_key("/readyz", &ready);
    for path in ["/integrations", "/metrics", "/healthz"] {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth("t0k")
            .send()
            .await
            .unwrap();
        assert_no_key(path, &r.text().await.unwrap());
    }
    let (status, _) = terminate(&mut daemon).await;
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("reload"),
        "the refusal is logged: {text:.3000}"
    );
    assert_no_key("the daemon's log", &text);
    let out = env.run(&["state", "--json"], &[]).await;
    assert_no_key("state", &all_output(&out));
}
