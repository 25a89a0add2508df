//! SIGHUP reloads every configuration layer while collection goes on: drop-ins add, change and
//! remove an integration and a sink; an invalid configuration is refused and the old one keeps
//! collecting.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

fn sighup(child: &tokio::process::Child) {
    send_signal(child, "HUP");
}

/// The event ids of `integration`'s records (either key style).
fn ids_of(events: &[Value], integration: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["_integration"] == integration)
        .map(|e| {
            e.get("eventId")
                .or_else(|| e.get("event_id"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("no event id in {e}"))
                .to_string()
        })
        .collect()
}

fn count(path: &std::path::Path, integration: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    let needle = format!("\"_integration\":\"{integration}\"");
    complete.lines().filter(|l| l.contains(&needle)).count()
}

/// A drop-in with a second integration `beta` on the simulator (and `extra` after it).
fn beta(env: &Env, extra: &str) -> String {
    format!(
        r#"[[integrations]]
name = "beta"
environment = "developer"
integration_key = "{INTEGRATION_KEY}"
user_id = "{USER_ID}"
private_key_file = "{key}"
account_id = "{acc}"
organization_id = "{org}"
event_types = ["customer_events"]
{extra}
[integrations.customer_events]
interval = "1s"
start_from = "30d"
[integrations.endpoints]
oauth = "{base}"
monitor = "{base}"
admin = "{admin}"
"#,
        key = env.path("key.pem").display(),
        acc = env.sim_config.account_id,
        org = env.sim_config.organization_id,
        base = env.sim.base_url(),
        admin = env.sim.admin_url(),
    )
}

/// `/readyz`'s answer once it reports a refused reload (or the last answer after 10 s).
async fn readiness_after_a_refused_reload(http: &reqwest::Client, base: &str) -> Value {
    let mut detail = Value::Null;
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            detail = r.json().await.unwrap_or(Value::Null);
            if detail.get("last_reload").is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    detail
}

fn write_dropin(env: &Env, name: &str, text: &str) {
    let dir = env.path("conf.d");
    std::fs::create_dir_all(&dir).expect("conf.d");
    std::fs::write(dir.join(name), text).expect("drop-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_changes_and_removes_an_integration_and_a_sink() {
    let mut env = Env::start(sim_config(300)).await;
    env.integration_extra = "event_types = [\"customer_events\"]".into();
    let mut child = env.spawn(&["run"]);
    let (main, second) = (env.events_path(), env.path("second.jsonl"));
    assert!(
        eventually(60, || count(&main, "acme") >= 300).await,
        "backlog"
    );

    // Add: an integration and a second file sink.
    let sink = format!(
        "[[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
        second.display()
    );
    write_dropin(&env, "beta.toml", &format!("{}{sink}", beta(&env, "")));
    sighup(&child);
    assert!(
        eventually(60, || count(&main, "beta") >= 300
            && count(&second, "beta") >= 300)
        .await,
        "the added integration collects to both sinks"
    );
    env.sim.append_events(20);
    assert!(
        eventually(60, || count(&main, "acme") >= 320
            && count(&second, "acme") >= 20)
        .await,
        "acme's next pages go to the added sink too"
    );
    assert!(eventually(60, || count(&main, "beta") >= 320).await);

    // Change: beta now writes snake_case keys.
    write_dropin(
        &env,
        "beta.toml",
        &format!("{}{sink}", beta(&env, "change_keys = true")),
    );
    sighup(&child);
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.sim.append_events(20);
    assert!(
        eventually(60, || count(&main, "beta") >= 340
            && count(&main, "acme") >= 340)
        .await,
        "both collect after the change"
    );
    let snake = read_jsonl(&main)
        .iter()
        .filter(|e| e["_integration"] == "beta" && e.get("event_id").is_some())
        .count();
    assert!(
        snake >= 20,
        "the changed integration restarted with change_keys"
    );

    // Remove: beta and the second sink.
    std::fs::remove_file(env.path("conf.d/beta.toml")).expect("remove drop-in");
    sighup(&child);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second_lines = complete_lines(&second);
    env.sim.append_events(20);
    assert!(
        eventually(60, || count(&main, "acme") >= 360).await,
        "acme goes on"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&main, "beta"), 340, "the removed integration stopped");
    assert_eq!(
        complete_lines(&second),
        second_lines,
        "the removed sink gets nothing"
    );

    let (status, _) = terminate(&mut child).await;
    assert!(status.success(), "{status:?}");
    let all: HashSet<String> = event_ids(&fetch_all_raw(&env, "2000-01-01T00:00:00Z").await)
        .into_iter()
        .collect();
    let events = env.events();
    for name in ["acme", "beta"] {
        let ids = ids_of(&events, name);
        assert_eq!(duplicates(&ids), 0, "{name}: nothing doubled");
        let got: HashSet<String> = ids.into_iter().collect();
        if name == "acme" {
            assert_eq!(got, all, "acme: nothing lost");
        } else {
            assert_eq!(got.len(), 340, "beta: everything until its removal");
        }
    }
    let second_acme = ids_of(&read_jsonl(&second), "acme");
    assert_eq!(duplicates(&second_acme), 0);
    // The cursor of the removed integration stays.
    let state = docusign_collector::state::State::open(&env.state_path()).expect("state");
    assert!(state
        .cursor(
            "beta",
            docusign_collector::record::EventType::CustomerEvents
        )
        .expect("cursor query")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_reload_is_refused_and_the_old_configuration_keeps_collecting() {
    let mut env = Env::start(sim_config(300)).await;
    env.integration_extra = "event_types = [\"customer_events\"]".into();
    let port = free_port();
    env.extra = format!("[api]\nlisten = \"127.0.0.1:{port}\"\n");
    let mut child = env.spawn(&["run"]);
    let main = env.events_path();
    assert!(
        eventually(60, || count(&main, "acme") >= 300).await,
        "backlog"
    );

    write_dropin(
        &env,
        "bad.toml",
        "[[integrations]]\nname = \"acme\"\n[integrations.customer_events]\npage_size = 5000\n",
    );
    sighup(&child);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let detail = readiness_after_a_refused_reload(&http, &base).await;
    let error = detail["last_reload"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("bad.toml") && error.contains("page_size"),
        "readiness names the file and key: {detail}"
    );
    assert_eq!(detail["last_reload"]["ok"], false);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("docusign_collector_config_reload_failures_total 1"),
        "counted"
    );

    env.sim.append_events(20);
    assert!(
        eventually(60, || count(&main, "acme") >= 320).await,
        "the old configuration keeps collecting"
    );
    let (status, _) = terminate(&mut child).await;
    assert!(status.success(), "{status:?}");
    assert_eq!(duplicates(&event_ids(&env.events())), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_lists_every_layer_file_it_read() {
    let env = Env::start(sim_config(0)).await;
    write_dropin(&env, "20-beta.toml", &beta(&env, ""));
    write_dropin(&env, "10-sink.toml", "[[sinks]]\ntype = \"stdout\"\n");
    let out = env.run(&["check-config"], &[]).await;
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 integrations, 2 sinks"), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("read ")).collect();
    let expect: Vec<String> = [
        env.path("config.toml"),
        env.path("conf.d/10-sink.toml"),
        env.path("conf.d/20-beta.toml"),
    ]
    .iter()
    .map(|p| format!("read {}", p.display()))
    .collect();
    assert_eq!(lines, expect);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_leave_api_integrations_alone_and_refuse_their_names() {
    let mut env = Env::start(sim_config(100)).await;
    env.integration_extra = "event_types = [\"customer_events\"]".into();
    let port = free_port();
    // A seal key: an integration created through the API carries a private key.
    env.extra = env.api_table(port, true);
    let mut child = env.spawn(&["run"]);
    let main = env.events_path();
    assert!(
        eventually(60, || count(&main, "acme") >= 100).await,
        "backlog"
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let data = api_integration_data(&env);
    let r = http
        .post(format!("{base}/integrations"))
        .bearer_auth("t0k")
        .json(&serde_json::json!({"integration": 8, "name": "gamma", "data": data}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    assert!(
        eventually(60, || count(&main, "gamma") >= 100).await,
        "gamma collects"
    );

    // A reload that adds a file integration leaves gamma running.
    write_dropin(&env, "beta.toml", &beta(&env, ""));
    sighup(&child);
    assert!(
        eventually(60, || count(&main, "beta") >= 100).await,
        "beta added"
    );
    env.sim.append_events(10);
    assert!(
        eventually(60, || count(&main, "gamma") >= 110
            && count(&main, "acme") >= 110)
        .await,
        "gamma and acme go on"
    );

    // A file may not take over gamma's name.
    write_dropin(
        &env,
        "gamma.toml",
        &beta(&env, "").replace("\"beta\"", "\"gamma\""),
    );
    sighup(&child);
    let detail = readiness_after_a_refused_reload(&http, &base).await;
    let error = detail["last_reload"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("gamma") && error.contains("local API"),
        "{detail}"
    );

    let (status, _) = terminate(&mut child).await;
    assert!(status.success(), "{status:?}");
    let events = env.events();
    for name in ["acme", "beta", "gamma"] {
        assert_eq!(duplicates(&ids_of(&events, name)), 0, "{name}");
    }
}
