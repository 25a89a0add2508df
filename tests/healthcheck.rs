//! `healthcheck` (the container's HEALTHCHECK): exit 0 when healthy, 1 when not.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_asks_the_api_or_opens_the_state_database() {
    let mut env = Env::start(sim_config(20)).await;

    // No API: healthy once the state database exists and opens.
    let o = env.run(&["healthcheck"], &[]).await;
    assert_eq!(o.status.code(), Some(1), "no state database yet");
    assert!(stderr(&o).contains("unhealthy"), "{}", stderr(&o));
    assert_success(&env.run(&["once"], &[]).await);
    let o = env.run(&["healthcheck"], &[]).await;
    assert_success(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("healthy"));

    // With the API: healthy while the daemon answers /healthz, unhealthy once it stopped.
    let port = free_port();
    env.extra = format!("[api]\nlisten = \"0.0.0.0:{port}\"\n");
    let o = env.run(&["healthcheck"], &[]).await;
    assert_eq!(o.status.code(), Some(1), "nothing listens yet");
    let log = std::fs::File::create(env.path("run.log")).unwrap();
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_docusign-collector"))
        .arg("--config")
        .arg(env.write_config())
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut last = String::new();
    for _ in 0..100 {
        let o = env.run(&["healthcheck"], &[]).await;
        if o.status.success() {
            last.clear();
            break;
        }
        last = stderr(&o);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(env.path("run.log")).unwrap_or_default();
    assert!(
        last.is_empty(),
        "healthcheck passes while the daemon runs: {last}\n{log}"
    );
    let _ = terminate(&mut daemon).await;
    let o = env.run(&["healthcheck"], &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}
