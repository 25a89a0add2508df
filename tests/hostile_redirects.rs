//! Hostile redirects, hosts and messages on Docusign's side: a Monitor origin that redirects
//! through another origin, a token endpoint that answers 307, a userinfo `base_uri` on a host the
//! configuration does not name, and error messages of a mebibyte. No credential may leave its
//! origin, nothing a redirect target sends may be emitted, and every message stays bounded.

mod common;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Response, Uri};
use common::*;
use docusign_collector::record::EventType;
use docusign_collector::state::State;
use std::sync::{Arc, Mutex};

/// One request a hostile server received.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A loopback server answering every request with `respond`, recording what it receives.
#[derive(Clone, Default)]
struct Hostile(Arc<Mutex<Vec<Seen>>>);

impl Hostile {
    /// Serve on a free loopback port; returns the recorder and the base URL (`http://addr`).
    async fn start(
        respond: impl Fn(&Seen) -> Response<Body> + Clone + Send + Sync + 'static,
    ) -> (Hostile, String) {
        let h = Hostile::default();
        let rec = h.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (rec, respond) = (rec.clone(), respond.clone());
                async move {
                    let seen = Seen {
                        method,
                        uri: uri.to_string(),
                        headers,
                        body,
                    };
                    let answer = respond(&seen);
                    rec.0.lock().unwrap().push(seen);
                    answer
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (h, format!("http://{addr}"))
    }

    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

fn redirect(status: u16, location: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("location", location)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"endCursor":"from-the-redirect","data":[]}"#))
        .unwrap()
}

fn json(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn saved_cursor(env: &Env) -> Option<String> {
    State::open(&env.state_path())
        .expect("state")
        .cursor("acme", EventType::CustomerEvents)
        .expect("cursor query")
}

const MONITOR: &str = "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__ENDPOINTS__MONITOR";
const OAUTH: &str = "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__ENDPOINTS__OAUTH";

async fn fast_env(cfg: docusign_sim::SimConfig) -> Env {
    let mut env = Env::start(cfg).await;
    env.integration_extra
        .push_str("\n[integrations.retry]\nmax_attempts = 3\ninitial = \"10ms\"\nmax = \"50ms\"\n");
    env
}

/// No line of `text` is longer than 4 KiB.
fn assert_lines_bounded(what: &str, text: &str) {
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest <= 4096,
        "{what} has a line of {longest} bytes: {:.300}",
        text.lines().max_by_key(|l| l.len()).unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_redirect_through_another_origin_carries_no_token_and_emits_nothing() {
    let env = fast_env(sim_config(10)).await;
    // The second origin: redirects once more to a path of its own, whose answer is a page of
    // events — had the collector followed, it would have emitted them.
    let (second, second_url) = Hostile::start(|seen: &Seen| {
        if seen.uri.starts_with("/own") {
            json(
                200,
                r#"{"endCursor":"evil","data":[{"eventId":"evil-1","timestamp":"2024-01-01T00:00:00Z"}]}"#
                    .into(),
            )
        } else {
            redirect(302, "/own/path?cursor=stolen")
        }
    })
    .await;
    let hop = format!("{second_url}/hop/one?cursor=secret-cursor");
    let (first, first_url) = Hostile::start(move |_: &Seen| redirect(302, &hop)).await;

    let out = env.run(&["once"], &[(MONITOR, &first_url)]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let asked = first.seen();
    assert_eq!(asked.len(), 1, "a redirect is not retried: {asked:?}");
    assert!(
        asked[0].headers.contains_key("authorization"),
        "the configured origin is asked with the token"
    );
    let reached = second.seen();
    assert!(
        reached
            .iter()
            .all(|s| !s.headers.contains_key("authorization")),
        "the other origin saw the token: {reached:?}"
    );
    assert!(reached.is_empty(), "no hop is followed: {reached:?}");
    assert!(
        env.events().is_empty(),
        "nothing from a redirect is emitted"
    );
    assert_eq!(saved_cursor(&env), None, "no cursor saved");
    for part in [
        "monitor API answered HTTP 302",
        &format!("{second_url}/hop/one"),
        "redirects are not followed",
    ] {
        assert!(err.contains(part), "stderr lacks {part:?}:\n{err}");
    }
    assert!(
        !err.contains("secret-cursor"),
        "the Location's query is not shown:\n{err}"
    );
    let token = cached_token(&env);
    assert!(!err.contains(&token), "the token is not logged");

    // Pointed back at Docusign (the simulator), the stream collects.
    let out = env.run(&["once"], &[]).await;
    assert_success(&out);
    assert_eq!(event_ids(&env.events()).len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_answering_307_never_gets_the_assertion_re_posted() {
    let env = fast_env(sim_config(5)).await;
    let (elsewhere, elsewhere_url) =
        Hostile::start(|_: &Seen| json(200, r#"{"access_token":"evil","expires_in":3600}"#.into()))
            .await;
    let target = format!("{elsewhere_url}/oauth/token");
    let (oauth, oauth_url) = Hostile::start(move |_: &Seen| redirect(307, &target)).await;

    let out = env.run(&["once"], &[(OAUTH, &oauth_url)]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let posted = oauth.seen();
    assert_eq!(
        posted.len(),
        1,
        "a redirect is not a transient failure: {posted:?}"
    );
    assert_eq!(posted[0].method, Method::POST);
    assert!(
        String::from_utf8_lossy(&posted[0].body).contains("assertion="),
        "the configured OAuth server gets the assertion"
    );
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect target got a request: {:?}",
        elsewhere.seen()
    );
    for part in [
        "the OAuth server",
        "token request with HTTP 307",
        &format!("{elsewhere_url}/oauth/token"),
        "redirects are not followed",
    ] {
        assert!(err.contains(part), "stderr lacks {part:?}:\n{err}");
    }
    assert!(env.events().is_empty());

    // `test` says the same in its token step.
    let out = env.run(&["test"], &[(OAUTH, &oauth_url)]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("token")
            && text.contains("FAILED")
            && text.contains("redirects are not followed"),
        "{text}"
    );
    assert!(elsewhere.seen().is_empty());
}

/// An audit-user set-up whose userinfo hands back `base_uri`.
async fn base_uri_env(base_uri: &str) -> Env {
    let mut env = audit_env(users(3), "").await;
    env.integration_extra
        .push_str("\n[integrations.retry]\nmax_attempts = 2\ninitial = \"10ms\"\nmax = \"50ms\"\n");
    env.sim.set_base_uri(Some(base_uri));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_uri_on_another_host_or_scheme_is_refused_and_never_gets_the_token() {
    let (other, other_url) = Hostile::start(|_: &Seen| json(200, "{}".into())).await;
    let other_authority = other_url.trim_start_matches("http://").to_string();
    for (base_uri, why) in [
        // Loopback too, but another port: another origin than any configured endpoint.
        (other_url.clone(), "nor the origin of a configured endpoint"),
        (format!("ftp://{other_authority}"), "not an http(s) URL"),
        (
            format!("http://user:pw@{other_authority}"),
            "user information",
        ),
    ] {
        let env = base_uri_env(&base_uri).await;
        let out = env.run(&["once"], &[]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{base_uri}: {err}");
        for part in ["esignature", "base_uri", why] {
            assert!(
                err.contains(part),
                "{base_uri}: stderr lacks {part:?}:\n{err}"
            );
        }
        if why.contains("configured endpoint") {
            assert!(
                err.contains(&other_authority),
                "names the refused host:\n{err}"
            );
        }
        assert!(env.events().is_empty(), "{base_uri}: nothing emitted");
        assert_eq!(env.sim.stats().esign_requests, 0, "{base_uri}");

        let out = env.run(&["test"], &[]).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains("esignature") && l.contains("FAILED") && l.contains(why)),
            "{base_uri}: {text}"
        );
    }
    assert!(
        other.seen().is_empty(),
        "the refused host got a request: {:?}",
        other.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mebibyte_error_message_is_cut_in_every_output() {
    let env = fast_env(sim_config(5)).await;
    let message = format!("start {}", "M".repeat(1 << 20));
    let body = serde_json::json!({"errorCode": "E".repeat(10_000), "message": message}).to_string();
    let (_monitor, monitor_url) = Hostile::start(move |_: &Seen| json(400, body.clone())).await;
    let out = env.run(&["once"], &[(MONITOR, &monitor_url)]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err:.2000}");
    assert!(
        err.contains("monitor API answered HTTP 400") && err.contains("start MMM"),
        "{err:.2000}"
    );
    assert!(err.contains('…'), "the cut is marked:\n{err:.2000}");
    assert_lines_bounded("stderr of once", &err);

    // What the run history kept, and what `test` reports, are cut too.
    let state = env.run(&["state", "--json"], &[]).await;
    let text = String::from_utf8_lossy(&state.stdout);
    assert!(
        text.contains("start MMM"),
        "the run history names the error: {text:.2000}"
    );
    assert_lines_bounded("state --json", &text);
    let out = env.run(&["test"], &[(MONITOR, &monitor_url)]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("monitor") && text.contains("FAILED"),
        "{text:.2000}"
    );
    assert_lines_bounded("test", &text);
    assert_lines_bounded("stderr of test", &stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_or_garbled_token_answer_is_bounded() {
    let env = fast_env(sim_config(5)).await;
    // A refusal (under the 16 KiB an answer may hold) with 12,000 characters of description,
    // newlines and escapes in it.
    let description = format!("line\nbreak \u{1b}[31m {}", "D".repeat(12_000));
    let refusal = serde_json::json!({"error": "invalid_request", "error_description": description})
        .to_string();
    let (_oauth, oauth_url) = Hostile::start(move |_: &Seen| json(400, refusal.clone())).await;
    let out = env.run(&["once"], &[(OAUTH, &oauth_url)]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("invalid_request") && err.contains("line break"),
        "{err:.2000}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no control character reaches the log"
    );
    assert_lines_bounded("stderr after a huge refusal", &err);

    // A 200 whose body is larger than any token answer: refused, not read whole.
    let huge = format!(r#"{{"access_token":"{}"}}"#, "t".repeat(1 << 20));
    let (_oauth, oauth_url) = Hostile::start(move |_: &Seen| json(200, huge.clone())).await;
    let out = env.run(&["once"], &[(OAUTH, &oauth_url)]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("larger than 16 KiB"), "{err:.2000}");
    assert_lines_bounded("stderr after a huge token answer", &err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_from_answers_and_configuration_stay_inside_their_path_segment() {
    // An Admin origin that also serves eSignature (userinfo's base_uri names it: a configured
    // origin), handing back users whose ids would climb out of the path.
    let (admin, admin_url) = Hostile::start(|seen: &Seen| {
        if seen.uri.starts_with("/management/") {
            let users = serde_json::json!({
                "users": [{"id": "u/../../x?y#z", "user_name": "climber"}, {"id": "..", "user_name": "dots"}],
                "paging": {"result_set_end_position": 1, "total_set_size": 2}
            });
            json(200, users.to_string())
        } else {
            json(404, r#"{"errorCode":"USER_DOES_NOT_EXIST_IN_SYSTEM"}"#.into())
        }
    })
    .await;
    let env = audit_env(users(0), "").await;
    env.sim.set_base_uri(Some(&admin_url));
    let admin_endpoint = format!("{admin_url}/management");
    let out = env
        .run(
            &["once"],
            &[(
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__ENDPOINTS__ADMIN",
                &admin_endpoint,
            )],
        )
        .await;
    assert_success(&out);
    let names: Vec<String> = env.events().iter().map(|e| e.to_string()).collect();
    assert_eq!(names.len(), 2, "both users are emitted: {names:?}");
    let esign: Vec<String> = admin
        .seen()
        .into_iter()
        .map(|s| s.uri)
        .filter(|u| u.starts_with("/restapi"))
        .collect();
    assert_eq!(
        esign,
        vec![format!(
            "/restapi/v2.1/accounts/{}/users/u%2F..%2F..%2Fx%3Fy%23z?additional_info=true",
            env.sim_config.account_id
        )],
        "one lookup, its id in one segment; '..' is not looked up"
    );
    assert!(stderr(&out).contains("bad_id"), "{}", stderr(&out));

    // The organization id from configuration, in the Monitor v1 path.
    let (monitor, monitor_url) =
        Hostile::start(|_: &Seen| json(400, r#"{"errorCode":"NO"}"#.into())).await;
    let mut env = fast_env(sim_config(0)).await;
    env.customer_events.push_str("api = \"v1\"\n");
    let out = env
        .run(
            &["once"],
            &[
                (MONITOR, &monitor_url),
                (
                    "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__ORGANIZATION_ID",
                    "org/../x?y",
                ),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    let asked = monitor.seen();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0]
            .uri
            .starts_with("/v1/organizations/org%2F..%2Fx%3Fy/stream?cursor="),
        "{}",
        asked[0].uri
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_segment_id_in_the_configuration_is_refused() {
    let env = Env::start(sim_config(0)).await;
    for (key, value) in [("ACCOUNT_ID", ".."), ("ORGANIZATION_ID", ".")] {
        let var = format!("DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__{key}");
        let out = env.run(&["check-config"], &[(&var, value)]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(78), "{err}");
        assert!(
            err.contains(&key.to_lowercase()) && err.contains("is not an id"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_that_redirects_or_is_huge_is_refused() {
    let (other, other_url) = Hostile::start(|_: &Seen| json(200, "{}".into())).await;
    let target = format!("{other_url}/oauth/userinfo");
    let huge = format!(r#"{{"accounts":[],"pad":"{}"}}"#, "p".repeat(300 << 10));
    for (userinfo, expected) in [
        (
            redirect(302, &target),
            format!("userinfo request with HTTP 302, a redirect to {target}"),
        ),
        (json(200, huge), "larger than 256 KiB".to_string()),
    ] {
        // An OAuth server that grants, then answers userinfo with `userinfo`.
        let (head, body) = userinfo.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let (_oauth, oauth_url) = Hostile::start(move |seen: &Seen| {
            if seen.uri.starts_with("/oauth/token") {
                json(200, r#"{"access_token":"tok-1","expires_in":3600}"#.into())
            } else {
                Response::from_parts(head.clone(), Body::from(body.clone()))
            }
        })
        .await;
        let env = audit_env(users(3), "").await;
        let out = env.run(&["once"], &[(OAUTH, &oauth_url)]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(&expected), "stderr lacks {expected:?}:\n{err}");
        assert_lines_bounded("stderr", &err);
        assert!(env.events().is_empty());
    }
    assert!(other.seen().is_empty(), "{:?}", other.seen());
}
