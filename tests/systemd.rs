//! systemd integration: notifications on a fake `NOTIFY_SOCKET`, and the shipped unit verifies.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_socket_gets_ready_watchdog_and_stopping_in_order() {
    let env = Env::start(sim_config(50)).await;
    let sock_path = env.path("notify.sock");
    let sock = tokio::net::UnixDatagram::bind(&sock_path).unwrap();
    let config = env.write_config();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut recv = async |seen: &mut Vec<String>| {
        let n = tokio::time::timeout(Duration::from_secs(30), sock.recv(&mut buf))
            .await
            .expect("a notification within 30 s")
            .unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]).to_string();
        seen.extend(msg.lines().map(str::to_string));
    };
    // Two watchdog pings (one every 0.5 s) after readiness, and events collected meanwhile.
    while seen.iter().filter(|m| *m == "WATCHDOG=1").count() < 2 {
        recv(&mut seen).await;
    }
    assert!(
        eventually(30, || env.events().len() >= 50).await,
        "collects"
    );
    sigterm(&child);
    while !seen.iter().any(|m| m == "STOPPING=1") {
        recv(&mut seen).await;
    }
    let _ = child.wait().await;
    while let Ok(n) = sock.try_recv(&mut buf) {
        seen.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_string),
        );
    }
    let at = |m: &str| seen.iter().position(|s| s == m).unwrap_or(usize::MAX);
    assert!(at("READY=1") < at("WATCHDOG=1"), "{seen:?}");
    assert!(at("WATCHDOG=1") < at("STOPPING=1"), "{seen:?}");
    assert!(
        seen.iter().any(|m| m.starts_with("STATUS=1 integrations")),
        "{seen:?}"
    );
    let last_watchdog = seen.iter().rposition(|s| s == "WATCHDOG=1");
    assert!(
        last_watchdog < Some(at("STOPPING=1")),
        "no watchdog ping once the scheduler loop ended: {seen:?}"
    );
}

/// `systemd-analyze verify` accepts the shipped unit (with the binary path pointed at this
/// build), when systemd-analyze is installed.
#[test]
fn the_unit_verifies() {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze not installed: skipped");
        return;
    };
    assert!(out.status.success());
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/docusign-collector.service"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("docusign-collector.service");
    std::fs::write(
        &copy,
        unit.replace(
            "/usr/local/bin/docusign-collector",
            env!("CARGO_BIN_EXE_docusign-collector"),
        ),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    let relevant: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("docusign-collector.service"))
        .collect();
    assert!(relevant.is_empty(), "{relevant:?}");
}
