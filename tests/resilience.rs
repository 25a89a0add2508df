//! Rate limits, faults and token trouble against the simulator's knobs.

mod common;

use common::*;
use docusign_sim::{Faults, RateLimit};
use std::collections::HashSet;
use std::time::Duration;

fn fast_retries(env: &mut Env) {
    env.integration_extra.push_str(
        "\n[integrations.retry]\nmax_attempts = 8\ninitial = \"10ms\"\nmax = \"200ms\"\n",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_behind_a_tight_limit_is_collected_without_429s() {
    let mut env = Env::start(sim_config(30_000)).await;
    env.rate_limit = "per_hour = 1000000\nburst = 10000\nreserve = 0\n".into();
    env.sim.set_rate_limit(Some(RateLimit {
        limit: 4,
        window: Duration::from_secs(6),
        burst_limit: 100,
        burst_window: Duration::from_secs(30),
    }));
    assert_success(&env.run(&["once"], &[]).await);
    let ids = event_ids(&env.events());
    assert_eq!(ids.len(), 30_000);
    assert_eq!(duplicates(&ids), 0);
    assert_eq!(
        env.sim.stats().rate_limited,
        0,
        "the headers were obeyed: no 429"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifteen_percent_failing_answers_still_deliver_every_event_exactly_once() {
    let mut env = Env::start(sim_config(10_000)).await;
    env.customer_events = "page_size = 500\nstart_from = \"30d\"\n".into();
    fast_retries(&mut env);
    env.sim.set_faults(Faults {
        error_rate: 0.10,
        error_statuses: vec![500, 502, 503],
        truncate_rate: 0.05,
        ..Faults::default()
    });
    assert_success(&env.run(&["once"], &[]).await);
    let ids = event_ids(&env.events());
    assert_eq!(ids.len(), 10_000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 10_000);
    let stats = env.sim.stats();
    assert!(
        stats.faults_injected + stats.truncated > 0,
        "faults were injected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_revoked_mid_run_cost_one_new_grant_and_collection_continues() {
    let env = Env::start(sim_config(1_000)).await;
    let mut daemon = env.spawn(&["run"]);
    let path = env.events_path();
    assert!(
        eventually(60, || complete_lines(&path) >= 1_000).await,
        "backlog collected"
    );
    assert_eq!(env.sim.stats().token_grants, 1);
    env.sim.revoke_tokens();
    env.sim.append_events(500);
    assert!(
        eventually(60, || complete_lines(&path) >= 1_500).await,
        "collection continued"
    );
    assert_eq!(env.sim.stats().token_grants, 2, "one new grant");
    let (status, _) = terminate(&mut daemon).await;
    assert!(status.success());
    assert_eq!(duplicates(&event_ids(&env.events())), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_docusign_rejects_names_the_key_and_the_host_clock() {
    let env = Env::start(sim_config(10)).await;
    let (other_key, _) = docusign_sim::generate_key_pair().unwrap();
    std::fs::write(env.path("key.pem"), other_key).unwrap();
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no_valid_keys_or_signatures"), "{err}");
    assert!(
        err.contains("private key") && err.contains("clock"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_not_retried_and_names_the_trace_token() {
    let env = Env::start(sim_config(100)).await;
    env.sim.fail_next(1, 400);
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 400") && err.contains("X-DocuSign-TraceToken"),
        "{err}"
    );
    assert!(err.contains("monitor"), "{err}");
    assert_eq!(env.sim.stats().requests_of("monitor"), 1, "not retried");
    // The next cycle resumes and collects everything.
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_slower_than_the_timeout_is_retried() {
    let mut env = Env::start(sim_config(100)).await;
    fast_retries(&mut env);
    env.integration_extra
        .push_str("\n[integrations.http]\ntimeout = \"1s\"\n");
    env.sim.delay_next(1, Duration::from_secs(3));
    assert_success(&env.run(&["once"], &[]).await);
    assert_eq!(env.events().len(), 100);
    assert!(
        env.sim.stats().requests_of("monitor") >= 2,
        "the slow answer was retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_grant() {
    use docusign_collector::integrations::Registry;
    use docusign_collector::state::State;
    let env = Env::start(sim_config(0)).await;
    let cfg = docusign_collector::config::load(&env.write_config()).expect("valid config");
    let registry = Registry::load(&cfg, &State::open_in_memory().unwrap()).unwrap();
    let auth = registry.integrations()[0].auth.clone();
    let grab = |n: usize| {
        let auth = auth.clone();
        futures_util::future::join_all((0..n).map(move |_| {
            let a = auth.clone();
            async move { a.access_token().await.expect("token") }
        }))
    };
    let tokens = grab(16).await;
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_eq!(
        env.sim.stats().token_grants,
        1,
        "16 concurrent callers, one grant"
    );
    // Every caller saw the token refused: they drop it and share one new grant.
    env.sim.revoke_tokens();
    futures_util::future::join_all((0..16).map(|_| auth.invalidate(&tokens[0]))).await;
    let renewed = grab(16).await;
    assert!(renewed.iter().all(|t| t == &renewed[0] && t != &tokens[0]));
    assert_eq!(env.sim.stats().token_grants, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_waiting_for_the_rate_limit_reset_exits_promptly() {
    let mut env = Env::start(sim_config(5_000)).await;
    env.customer_events = "page_size = 100\nstart_from = \"30d\"\n".into();
    env.rate_limit = "per_hour = 1000000\nburst = 10000\nreserve = 0\n".into();
    // Two calls a minute: the collector soon waits for the reset, up to a minute away.
    env.sim.set_rate_limit(Some(RateLimit {
        limit: 2,
        window: Duration::from_secs(60),
        burst_limit: 100,
        burst_window: Duration::from_secs(30),
    }));
    let mut child = env.spawn(&["run"]);
    let path = env.events_path();
    assert!(
        eventually(30, || complete_lines(&path) > 0).await,
        "a first page arrived"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, took) = terminate(&mut child).await;
    assert!(status.success());
    assert!(took < Duration::from_secs(5), "took {:?}", took);
    assert_eq!(env.sim.stats().rate_limited, 0);
}

/// A proxy in front of the simulator's OAuth endpoint: the first connection is closed unanswered,
/// the second answered 503, every later one forwarded. Returns its base URL.
async fn flaky_oauth(sim: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut conn, _)) = listener.accept().await {
            n += 1;
            let mut buf = [0u8; 4096];
            match n {
                1 => drop(conn),
                2 => {
                    let _ = conn.read(&mut buf).await;
                    let _ = conn
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                }
                _ => {
                    tokio::spawn(async move {
                        if let Ok(mut up) = tokio::net::TcpStream::connect(sim).await {
                            let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
                        }
                    });
                }
            }
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_that_cannot_connect_or_gets_a_503_is_retried_within_the_cycle() {
    let mut env = Env::start(sim_config(50)).await;
    fast_retries(&mut env);
    let oauth = flaky_oauth(env.sim.local_addr()).await;
    let out = env
        .run(
            &["once"],
            &[(
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__ENDPOINTS__OAUTH",
                &oauth,
            )],
        )
        .await;
    assert_success(&out);
    assert_eq!(event_ids(&env.events()).len(), 50, "the cycle collected");
    assert_eq!(
        env.sim.stats().token_grants,
        1,
        "the third attempt got the token"
    );
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_grant_refusal_is_not_retried() {
    let mut env = Env::start(sim_config(5)).await;
    fast_retries(&mut env);
    env.sim.set_consent(INTEGRATION_KEY, &[]);
    let out = env.run(&["once"], &[]).await;
    assert!(!out.status.success());
    let stats = env.sim.stats();
    assert_eq!(stats.token_grants, 0);
    assert_eq!(stats.token_errors, 1, "consent_required is asked once");
}
