//! Hostile numbers under `run`: a 429 with `Retry-After: 2^64−1` and a 200 with
//! `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset: 2^63−1` neither panic nor stop the
//! integration for ever (the wait is clamped to `rate_limit.max_wait`, an hour by default, and
//! logged); and a stream whose task panics is restarted, counted and shown.

mod common;

use common::*;
use docusign_sim::Api;
use serde_json::Value;
use std::path::PathBuf;

const RETRY_AFTER_2_64: &str = "18446744073709551615";
const RESET_2_63: &str = "9223372036854775807";

/// `run` with JSON logs on stderr (kept in `stderr.log`), `[api]` on a free port, and extra
/// environment; returns the child, the API's base URL and the log's path.
async fn run_logged(
    env: &mut Env,
    vars: &[(&str, &str)],
) -> (tokio::process::Child, String, PathBuf) {
    let port = free_port();
    env.extra = env.api_table(port, false);
    let config = env.write_config();
    let log = env.path("stderr.log");
    let file = std::fs::File::create(&log).expect("create the log");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"));
    cmd.arg("--config")
        .arg(&config)
        .arg("run")
        .env_remove("DOCUSIGN_COLLECTOR_FAULT")
        .env_remove("WATCHDOG_PID")
        .env("DOCUSIGN_COLLECTOR__LOG__FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .kill_on_drop(true);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("collector starts");
    let base = format!("http://127.0.0.1:{port}");
    wait_for_api(&reqwest::Client::new(), &base).await;
    (child, base, log)
}

/// The log's lines that are JSON objects.
fn log_lines(log: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn has_message(line: &Value, words: &str) -> bool {
    line["message"].as_str().is_some_and(|m| m.contains(words))
}

/// The process is still running, `/healthz` answers 200 and nothing panicked.
async fn alive_and_well(child: &mut tokio::process::Child, base: &str, log: &PathBuf) {
    assert!(
        child.try_wait().expect("poll the child").is_none(),
        "the daemon lives"
    );
    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(!text.contains("panicked"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_rate_limit_headers_are_clamped_and_collection_resumes() {
    let mut env = Env::start(sim_config(300)).await;
    // A short clamp, so that collection visibly resumes after each wait.
    env.rate_limit.push_str("max_wait = \"2s\"\n");
    // The first Monitor answer: a 429 that asks for 2^64−1 seconds; the next (the retry): a
    // page whose headers say the budget is spent until the year 292 billion.
    env.sim
        .headers_next(
            Api::Monitor,
            1,
            Some(429),
            &[("Retry-After", RETRY_AFTER_2_64)],
        )
        .expect("knob");
    env.sim
        .headers_next(
            Api::Monitor,
            1,
            None,
            &[
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", RESET_2_63),
            ],
        )
        .expect("knob");
    let (mut child, base, log) = run_logged(&mut env, &[]).await;
    let path = env.events_path();
    assert!(
        eventually(60, || complete_lines(&path) >= 300).await,
        "the backlog arrives after the 429"
    );
    // Both waits were clamped to max_wait, and each clamp names its header and value.
    let lines = log_lines(&log);
    let clamp = |header: &str, value: &str| {
        lines.iter().any(|l| {
            l["header"] == header
                && l["value"] == value
                && l["max_wait_s"] == 2.0
                && has_message(l, "longer than the longest allowed")
        })
    };
    assert!(clamp("Retry-After", RETRY_AFTER_2_64), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| has_message(l, "rate limit reached (429)") && l["wait_s"] == 2.0),
        "the 429's wait is the clamp: {lines:#?}"
    );
    // The page with the spent budget: clamped as well, then the stream goes on.
    assert!(
        eventually(30, || log_lines(&log).iter().any(|l| l["header"]
            == "X-RateLimit-Reset"
            && l["value"] == RESET_2_63))
        .await,
        "{:#?}",
        log_lines(&log)
    );
    let reserve = log_lines(&log)
        .into_iter()
        .find(|l| has_message(l, "down to the reserve"))
        .expect("the reserve pause is logged");
    assert_eq!(reserve["wait_s"], 2.25, "max_wait plus the reset margin");
    env.sim.append_events(40);
    assert!(
        eventually(60, || complete_lines(&path) >= 340).await,
        "collection resumes after the clamped wait"
    );
    alive_and_well(&mut child, &base, &log).await;
    let ids = event_ids(&env.events());
    assert_eq!(duplicates(&ids), 0);
    child.kill().await.expect("stop the daemon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_2_64_waits_at_most_an_hour_by_default() {
    let mut env = Env::start(sim_config(10)).await;
    env.sim
        .headers_next(
            Api::Monitor,
            1,
            Some(429),
            &[("Retry-After", RETRY_AFTER_2_64)],
        )
        .expect("knob");
    let (mut child, base, log) = run_logged(&mut env, &[]).await;
    assert!(
        eventually(30, || log_lines(&log)
            .iter()
            .any(|l| has_message(l, "rate limit reached (429)")))
        .await,
        "the 429 is seen"
    );
    let lines = log_lines(&log);
    let pause = lines
        .iter()
        .find(|l| has_message(l, "rate limit reached (429)"))
        .expect("logged");
    assert_eq!(pause["wait_s"], 3600.0, "an hour, Docusign's window");
    assert!(lines.iter().any(|l| l["header"] == "Retry-After"
        && l["value"] == RETRY_AFTER_2_64
        && l["max_wait_s"] == 3600.0));
    // The integration waits (no event yet), the process is fine.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(complete_lines(&env.events_path()), 0, "still waiting");
    alive_and_well(&mut child, &base, &log).await;
    child.kill().await.expect("stop the daemon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_task_panics_is_restarted_counted_and_shown() {
    let mut env = Env::start(sim_config(120)).await;
    let (mut child, base, log) = run_logged(
        &mut env,
        &[("DOCUSIGN_COLLECTOR_FAULT", "panic_in_cycle:1")],
    )
    .await;
    let http = reqwest::Client::new();
    // Between the panic and the restart (a second), /readyz names the failure.
    let mut shown = None;
    for _ in 0..400 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 503 {
                let v: Value = r.json().await.unwrap_or_default();
                if v["failing"].to_string().contains("panicked") {
                    shown = Some(v);
                    break;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let shown = shown.expect("/readyz showed the panicked stream");
    let failing = &shown["failing"][0];
    assert_eq!(failing["event_type"], "customer_events");
    let error = failing["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the stream's task panicked: fault injection: panic_in_cycle")
            && error.contains("restarting in 1s (restart 1)"),
        "{error}"
    );
    // The stream comes back: every event arrives, once.
    let path = env.events_path();
    assert!(
        eventually(60, || complete_lines(&path) >= 120).await,
        "the stream came back"
    );
    assert_eq!(duplicates(&event_ids(&env.events())), 0);
    // Counted, logged, and ready again once a cycle succeeded.
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics.lines().any(|l| l
            == "docusign_collector_stream_restarts_total{integration=\"acme\",event_type=\"customer_events\"} 1"),
        "{metrics}"
    );
    assert!(log_lines(&log)
        .iter()
        .any(|l| has_message(l, "the stream's task panicked") && l["restart"] == 1));
    let mut ready = false;
    for _ in 0..200 {
        let r = http.get(format!("{base}/readyz")).send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "/readyz is 200 again after a successful cycle");
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the daemon lives"
    );
    // The state shows the stream's last run: a success now, after the recorded panic.
    let out = env.run(&["state", "--json"], &[]).await;
    assert_success(&out);
    let state: Value = serde_json::from_slice(&out.stdout).expect("state --json");
    let run = &state[0]["streams"][0]["last_run"];
    assert!(run["error"].is_null(), "{state:#}");
    child.kill().await.expect("stop the daemon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_is_not_fed_while_a_stream_is_dead() {
    let mut env = Env::start(sim_config(50)).await;
    let sock_path = env.path("notify.sock");
    let sock = tokio::net::UnixDatagram::bind(&sock_path).expect("bind the notify socket");
    let sock_env = sock_path.display().to_string();
    // A ping every 100 ms while all is well; the panic's stream is dead for a second.
    let (mut child, base, log) = run_logged(
        &mut env,
        &[
            ("NOTIFY_SOCKET", sock_env.as_str()),
            ("WATCHDOG_USEC", "200000"),
            ("DOCUSIGN_COLLECTOR_FAULT", "panic_in_cycle:1"),
        ],
    )
    .await;
    let path = env.events_path();
    let mut pings: Vec<std::time::Instant> = Vec::new();
    let mut buf = vec![0u8; 4096];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Collect pings until the stream is back (all events in) and a few pings followed.
    while std::time::Instant::now() < deadline {
        if let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_millis(200), sock.recv(&mut buf)).await
        {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.lines().any(|l| l == "WATCHDOG=1") {
                pings.push(std::time::Instant::now());
            }
        }
        if complete_lines(&path) >= 50 && pings.len() >= 5 {
            let last_gap = pings.windows(2).last().map(|w| w[1] - w[0]);
            if last_gap.is_some_and(|g| g < std::time::Duration::from_millis(500)) {
                break;
            }
        }
    }
    assert!(complete_lines(&path) >= 50, "the stream came back");
    assert!(
        log_lines(&log)
            .iter()
            .any(|l| has_message(l, "the watchdog is not fed") && l["dead"] == 1),
        "the tick saw the dead stream"
    );
    let longest = pings
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        longest >= std::time::Duration::from_millis(500),
        "no ping for the second the stream was dead (longest gap {longest:?})"
    );
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the daemon lives"
    );
    let _ = base;
    child.kill().await.expect("stop the daemon");
}
