//! Simulator tests, data API side: Monitor stream, Admin users, eSignature, limits, faults.

use super::tests::{client, get, start, token, ALL};
use super::*;
use serde_json::Value;
use std::collections::HashSet;

async fn sim_with(backlog: usize, users: usize) -> SimHandle {
    start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        backlog_events: backlog,
        users,
        esign_unknown_users: 2,
        ..SimConfig::default()
    })
    .await
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn page(sim: &SimHandle, t: &str, cursor: &str, limit: usize) -> (String, Vec<String>) {
    let path = format!(
        "/api/v2.0/datasets/monitor/stream?cursor={}&limit={limit}",
        enc(cursor)
    );
    let (status, v) = json_of(get(sim, &path, t).await).await;
    assert_eq!(status, 200, "{v}");
    let ids = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["eventId"].as_str().expect("eventId").to_string())
        .collect();
    (v["endCursor"].as_str().expect("endCursor").to_string(), ids)
}

#[tokio::test]
async fn stream_pages_to_the_end_without_gaps_or_repeats() {
    let sim = sim_with(4500, 10).await;
    let t = token(&sim, "signature impersonation").await;
    let mut cursor = String::new();
    let mut seen = Vec::new();
    loop {
        let (end, ids) = page(&sim, &t, &cursor, 2000).await;
        if ids.is_empty() {
            assert_eq!(
                end, cursor,
                "caught up: endCursor must equal the cursor sent"
            );
            break;
        }
        assert_ne!(end, cursor);
        seen.extend(ids);
        cursor = end;
    }
    assert_eq!(seen, sim.event_ids());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 4500);

    sim.append_events(3);
    let (end, ids) = page(&sim, &t, &cursor, 2000).await;
    assert_eq!(ids, sim.event_ids()[4500..].to_vec());
    let (again, none) = page(&sim, &t, &end, 2000).await;
    assert!(none.is_empty());
    assert_eq!(again, end);
    assert_eq!(sim.stats().events_served, 4503);
    assert_eq!(sim.stats().requests_of("monitor"), 6);
}

#[tokio::test]
async fn iso_and_empty_cursors() {
    // 100 events over the last 10 days: an empty cursor starts seven days ago.
    let sim = start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        backlog_events: 100,
        backlog_span: Duration::from_secs(10 * 86_400),
        ..SimConfig::default()
    })
    .await;
    let t = token(&sim, "signature impersonation").await;
    let all = sim.event_ids();
    let (_, from_empty) = page(&sim, &t, "", 2000).await;
    assert!(
        (69..=71).contains(&from_empty.len()),
        "{}",
        from_empty.len()
    );
    assert_eq!(from_empty[..], all[100 - from_empty.len()..]);

    let since = chrono::Utc::now() - chrono::Duration::hours(60);
    let iso = since.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (_, recent) = page(&sim, &t, &iso, 2000).await;
    assert!((24..=26).contains(&recent.len()), "{}", recent.len());
    assert_eq!(recent[..], all[100 - recent.len()..]);

    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (end, none) = page(&sim, &t, &future, 10).await;
    assert!(none.is_empty());
    assert_eq!(end, future);
}

#[tokio::test]
async fn stream_rejects_bad_limits_and_cursors() {
    let sim = sim_with(10, 1).await;
    let t = token(&sim, "signature impersonation").await;
    for q in [
        "limit=0",
        "limit=2001",
        "limit=ten",
        "cursor=garbage",
        "cursor=aa_1_1_5",
        "cursor=aa_0_0_99",
    ] {
        let (status, v) =
            json_of(get(&sim, &format!("/api/v2.0/datasets/monitor/stream?{q}"), &t).await).await;
        assert_eq!(status, 400, "{q}: {v}");
        assert_eq!(v["errorCode"], "INVALID_REQUEST_PARAMETER", "{q}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, v) = json_of(get(&sim, "/api/v2.0/datasets/monitor/stream", &t).await).await;
    assert_eq!(v["data"].as_array().map(Vec::len), Some(10));
    let (_, ids) = page(&sim, &t, "", 2000).await;
    assert_eq!(ids.len(), 10);
    // A token without the Monitor scopes is refused.
    let narrow = token(&sim, "organization_read").await;
    assert_eq!(
        get(&sim, "/api/v2.0/datasets/monitor/stream", &narrow)
            .await
            .status()
            .as_u16(),
        403
    );
}

#[tokio::test]
async fn v1_stream_uses_result_data_and_checks_organization() {
    let sim = sim_with(30, 1).await;
    let t = token(&sim, "signature impersonation").await;
    let org = SimConfig::default().organization_id;
    let (status, v) = json_of(
        get(
            &sim,
            &format!("/v1/organizations/{org}/stream?limit=20"),
            &t,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["resultData"].as_array().map(Vec::len), Some(20));
    assert!(v.get("data").is_none());
    let end = v["endCursor"].as_str().expect("endCursor");
    let path = format!(
        "/v1/organizations/{org}/stream?limit=20&cursor={}",
        enc(end)
    );
    let (_, v2) = json_of(get(&sim, &path, &t).await).await;
    assert_eq!(v2["resultData"][0]["eventId"], sim.event_ids()[20].as_str());
    let (status, v) = json_of(get(&sim, "/v1/organizations/nope/stream", &t).await).await;
    assert_eq!(status, 404);
    assert!(v["errorCode"].is_string());
    assert_eq!(sim.stats().requests_of("monitor_v1"), 3);
}

#[tokio::test]
async fn large_backlog_page_is_fast() {
    let sim = sim_with(200_000, 50).await;
    let t = token(&sim, "signature impersonation").await;
    let started = std::time::Instant::now();
    let (_, ids) = page(&sim, &t, "", 2000).await;
    assert_eq!(ids.len(), 2000);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

fn user_ids(v: &Value) -> Vec<String> {
    v["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn admin_users_page_with_next_urls() {
    let sim = sim_with(0, 23).await;
    let t = token(&sim, ALL).await;
    let org = SimConfig::default().organization_id;
    let mut url = format!("{}/v2/organizations/{org}/users?take=10", sim.admin_url());
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, v) = json_of(get(&sim, &url, &t).await).await;
        assert_eq!(status, 200, "{v}");
        pages += 1;
        assert_eq!(v["paging"]["total_set_size"], 23);
        if pages == 2 {
            assert!(v["paging"]["previous"]
                .as_str()
                .is_some_and(|p| p.contains("start=0")));
        }
        seen.extend(user_ids(&v));
        match v["paging"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://"), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, sim.user_ids());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);

    let (_, v) = json_of(
        get(
            &sim,
            &format!("/management/v2/organizations/{org}/users?take=1000"),
            &t,
        )
        .await,
    )
    .await;
    assert_eq!(v["paging"]["result_set_size"], 23);
    let first = &v["users"][0];
    for k in [
        "id",
        "user_name",
        "email",
        "user_status",
        "membership_status",
        "created_on",
    ] {
        assert!(first.get(k).is_some(), "missing {k}");
    }
    // Scopes and organization are checked.
    let narrow = token(&sim, "signature impersonation").await;
    assert_eq!(
        get(
            &sim,
            &format!("/management/v2/organizations/{org}/users"),
            &narrow
        )
        .await
        .status()
        .as_u16(),
        403
    );
    assert_eq!(
        get(&sim, "/management/v2/organizations/other/users", &t)
            .await
            .status()
            .as_u16(),
        404
    );
}

fn esign_secs(modified: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(modified, "%m/%d/%Y %I:%M:%S %p")
        .expect("modifiedDate format")
        .and_utc()
        .timestamp()
}

#[tokio::test]
async fn last_modified_since_is_inclusive_and_needs_account() {
    let sim = sim_with(0, 40).await;
    let t = token(&sim, ALL).await;
    let org = SimConfig::default().organization_id;
    let acc = SimConfig::default().account_id;
    let modified: HashSet<String> = sim.modify_users(3).into_iter().collect();
    let one = modified.iter().next().expect("one").clone();
    let (status, v) = json_of(
        get(
            &sim,
            &format!("/restapi/v2.1/accounts/{acc}/users/{one}"),
            &t,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let secs = esign_secs(
        v["userSettings"]["modifiedDate"]
            .as_str()
            .expect("modifiedDate"),
    );
    let iso = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .expect("ts")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let q = |since: String| {
        format!(
            "/management/v2/organizations/{org}/users?account_id={acc}&last_modified_since={}",
            enc(&since)
        )
    };
    let (_, v) = json_of(get(&sim, &q(iso(secs)), &t).await).await;
    let got: HashSet<String> = user_ids(&v).into_iter().collect();
    assert_eq!(got, modified);
    let (_, v) = json_of(get(&sim, &q(iso(secs + 1)), &t).await).await;
    assert!(user_ids(&v).is_empty());
    // A bare date works too (includes everything modified today).
    let day = chrono::DateTime::from_timestamp(secs, 0)
        .expect("ts")
        .format("%Y-%m-%d")
        .to_string();
    let (status, _) = json_of(get(&sim, &q(day), &t).await).await;
    assert_eq!(status, 200);

    let path = format!(
        "/management/v2/organizations/{org}/users?last_modified_since={}",
        enc(&iso(secs))
    );
    let (status, v) = json_of(get(&sim, &path, &t).await).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"]
        .as_str()
        .is_some_and(|m| m.contains("account_id")));
}

#[tokio::test]
async fn esign_user_and_unknown_users() {
    let sim = sim_with(0, 12).await;
    let t = token(&sim, ALL).await;
    let acc = SimConfig::default().account_id;
    let unknown = sim.esign_unknown_user_ids();
    assert_eq!(unknown.len(), 2);
    let known = sim
        .user_ids()
        .into_iter()
        .find(|u| !unknown.contains(u))
        .expect("known user");
    let (status, v) = json_of(
        get(
            &sim,
            &format!("/restapi/v2.1/accounts/{acc}/users/{known}"),
            &t,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["userId"], known.as_str());
    assert!(v["groupList"][0]["groupName"].is_string());
    let m = v["userSettings"]["modifiedDate"]
        .as_str()
        .expect("modifiedDate");
    assert!(m.ends_with(" AM") || m.ends_with(" PM"), "{m}");
    assert!(!m.starts_with('0'));
    for id in &unknown {
        let (status, v) = json_of(
            get(
                &sim,
                &format!("/restapi/v2.1/accounts/{acc}/users/{id}"),
                &t,
            )
            .await,
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(v["errorCode"], "USER_DOES_NOT_EXIST_IN_SYSTEM");
    }
    assert_eq!(sim.stats().esign_requests, 3);
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let sim = sim_with(5, 1).await;
    let t = token(&sim, "signature impersonation").await;
    let path = "/api/v2.0/datasets/monitor/stream";
    let r = get(&sim, path, &t).await;
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-burstlimit-limit",
        "x-burstlimit-remaining",
        "x-docusign-tracetoken",
    ] {
        assert!(r.headers().contains_key(h), "missing {h}");
    }
    sim.set_rate_limit(Some(RateLimit {
        limit: 3,
        window: Duration::from_secs(3600),
        burst_limit: 100,
        burst_window: Duration::from_secs(30),
    }));
    let header = |r: &reqwest::Response, h: &str| -> i64 {
        r.headers()[h]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number")
    };
    for expected in [2, 1, 0] {
        let r = get(&sim, path, &t).await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(header(&r, "x-ratelimit-remaining"), expected);
        assert_eq!(header(&r, "x-ratelimit-limit"), 3);
    }
    let r = get(&sim, path, &t).await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_none());
    let reset = header(&r, "x-ratelimit-reset");
    assert_eq!(reset % 3600, 0);
    assert!(reset > super::tests::now());
    let (_, v) = json_of(r).await;
    assert_eq!(v["errorCode"], "HOURLY_APIINVOCATION_LIMIT_EXCEEDED");
    assert_eq!(
        v["message"],
        "The maximum number of hourly API invocations has been exceeded. The hourly limit is 3."
    );
    // OAuth calls are not counted nor limited.
    assert_eq!(
        get(&sim, "/oauth/userinfo", &t).await.status().as_u16(),
        200
    );
    assert_eq!(sim.stats().rate_limited, 1);

    sim.set_rate_limit(Some(RateLimit {
        limit: 100,
        window: Duration::from_secs(3600),
        burst_limit: 2,
        burst_window: Duration::from_secs(3600),
    }));
    assert_eq!(get(&sim, path, &t).await.status().as_u16(), 200);
    assert_eq!(get(&sim, path, &t).await.status().as_u16(), 200);
    let r = get(&sim, path, &t).await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(header(&r, "x-burstlimit-remaining"), 0);
}

#[tokio::test]
async fn faults_truncate_fail_and_delay() {
    let sim = sim_with(50, 12).await;
    let t = token(&sim, ALL).await;
    let path = "/api/v2.0/datasets/monitor/stream?limit=10";
    sim.set_faults(Faults {
        truncate_rate: 1.0,
        ..Faults::default()
    });
    let r = get(&sim, path, &t).await;
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.expect("body");
    assert!(body.starts_with("{\"endCursor\""));
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "body should be cut"
    );

    sim.set_faults(Faults::default());
    sim.fail_next(2, 503);
    assert_eq!(get(&sim, path, &t).await.status().as_u16(), 503);
    assert_eq!(get(&sim, path, &t).await.status().as_u16(), 503);
    assert_eq!(get(&sim, path, &t).await.status().as_u16(), 200);

    sim.set_faults(Faults {
        error_rate: 1.0,
        error_statuses: vec![502],
        ..Faults::default()
    });
    assert_eq!(get(&sim, path, &t).await.status().as_u16(), 502);
    // OAuth is never faulted.
    assert_eq!(
        get(&sim, "/oauth/userinfo", &t).await.status().as_u16(),
        200
    );

    sim.set_faults(Faults {
        delay: Duration::from_millis(300),
        ..Faults::default()
    });
    let acc = SimConfig::default().account_id;
    let started = std::time::Instant::now();
    let calls = sim.user_ids().into_iter().take(4).map(|id| {
        let url = format!("{}/restapi/v2.1/accounts/{acc}/users/{id}", sim.base_url());
        let t = t.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.is_ok()));
    assert!(started.elapsed() >= Duration::from_millis(300));
    let stats = sim.stats();
    assert!(stats.esign_max_in_flight >= 2, "{stats:?}");
    assert_eq!(stats.faults_injected, 3);
    assert_eq!(stats.truncated, 1);
    assert_eq!(stats.status_count(503), 2);
}

#[tokio::test]
async fn control_endpoints_drive_the_knobs() {
    let sim = sim_with(0, 5).await;
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let post = |p: &str| http.post(format!("{base}/_sim/{p}")).send();
    let (status, v) = json_of(post("events?n=7").await.expect("events")).await;
    assert_eq!((status, v["count"].clone()), (200, Value::from(7)));
    assert_eq!(sim.event_count(), 7);
    let (_, v) = json_of(post("users/add?n=2").await.expect("add")).await;
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(2));
    assert_eq!(sim.user_count(), 7);
    let (_, v) = json_of(post("users/modify?n=3").await.expect("modify")).await;
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        post("fail_next?n=1&status=500")
            .await
            .expect("fail")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        post("faults?error_rate=2")
            .await
            .expect("faults")
            .status()
            .as_u16(),
        400
    );
    let t = token(&sim, "signature impersonation").await;
    assert_eq!(
        get(&sim, "/api/v2.0/datasets/monitor/stream", &t)
            .await
            .status()
            .as_u16(),
        500
    );
    assert_eq!(
        post("rate_limit?limit=1&window_secs=3600")
            .await
            .expect("rl")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        get(&sim, "/api/v2.0/datasets/monitor/stream", &t)
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        get(&sim, "/api/v2.0/datasets/monitor/stream", &t)
            .await
            .status()
            .as_u16(),
        429
    );
    assert_eq!(post("revoke").await.expect("revoke").status().as_u16(), 200);
    let (_, v) = json_of(
        http.get(format!("{base}/_sim/stats"))
            .send()
            .await
            .expect("stats"),
    )
    .await;
    assert_eq!(v["token_grants"], 1);
    assert_eq!(v["rate_limited"], 1);
    assert_eq!(v["statuses"]["500"], 1);
}

#[tokio::test]
async fn live_events_are_appended_in_the_background() {
    let sim = start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        live_events_per_sec: 100.0,
        ..SimConfig::default()
    })
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sim.event_count() < 5 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sim.event_count() >= 5, "{}", sim.event_count());
}
