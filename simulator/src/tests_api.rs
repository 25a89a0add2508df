//! Simulator tests, data API side: Monitor stream, Admin users, eSignature, limits, faults.

use super::tests::{client, get, start, token, ALL};
use super::*;
use serde_json::Value;
use std::collections::HashSet;

pub(super) async fn sim_with(backlog: usize, users: usize) -> SimHandle {
    start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        backlog_events: backlog,
        users,
        esign_unknown_users: 2,
        ..SimConfig::default()
    })
    .await
}

pub(super) async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(super) fn enc(s: &str) -> String {
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
    let first = &v["resultData"][0];
    for k in [
        "os",
        "browser",
        "city",
        "country",
        "latitude",
        "longitude",
        "proxyStatus",
    ] {
        assert!(first.get(k).is_some(), "v1 event lacks {k}: {first}");
    }
    let (_, v2) = json_of(get(&sim, "/api/v2.0/datasets/monitor/stream?limit=1", &t).await).await;
    assert!(
        v2["data"][0].get("os").is_none(),
        "lens events keep their shape"
    );
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
