//! Simulator tests, one-shot answers per API, the userinfo `base_uri`, and the knobs' control endpoints.

use super::tests::{get, token, ALL};
use super::tests_api::{json_of, sim_with};
use super::*;
use serde_json::Value;

fn paths() -> (String, String, String) {
    let cfg = SimConfig::default();
    let (org, acc) = (cfg.organization_id, cfg.account_id);
    (
        "/api/v2.0/datasets/monitor/stream?limit=5".to_string(),
        format!("/management/v2/organizations/{org}/users?account_id={acc}"),
        format!("/restapi/v2.1/accounts/{acc}/users"),
    )
}

async fn status_and_body(sim: &SimHandle, path: &str, t: &str) -> (u16, String, String) {
    let r = get(sim, path, t).await;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn garbled_answers_hit_only_the_chosen_api() {
    let sim = sim_with(10, 5).await;
    let t = token(&sim, ALL).await;
    let (monitor, admin, esign) = paths();
    sim.garble_next(Api::Admin, 2, "<html><body>Gateway</body></html>");
    sim.garble_next(Api::Esign, 1, "{\"unexpected\":true}");
    // Monitor is untouched.
    let (status, _, body) = status_and_body(&sim, &monitor, &t).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("{\"endCursor\""));
    for _ in 0..2 {
        let (status, ct, body) = status_and_body(&sim, &admin, &t).await;
        assert_eq!(
            (status, body.as_str()),
            (200, "<html><body>Gateway</body></html>")
        );
        assert!(ct.starts_with("text/html"), "{ct}");
    }
    let (status, _, body) = status_and_body(&sim, &admin, &t).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"paging\""));
    let (status, ct, body) = status_and_body(&sim, &esign, &t).await;
    assert_eq!((status, body.as_str()), (200, "{\"unexpected\":true}"));
    assert!(ct.starts_with("application/json"));
    assert_eq!(sim.stats().garbled, 3);
}

#[tokio::test]
async fn fail_next_on_one_api_leaves_the_others_alone() {
    let sim = sim_with(10, 5).await;
    let t = token(&sim, ALL).await;
    let (monitor, admin, esign) = paths();
    let user = sim.user_ids()[0].clone();
    let one = format!("{esign}/{user}");
    sim.fail_next_on(Api::Esign, 2, 503);
    assert_eq!(status_and_body(&sim, &admin, &t).await.0, 200);
    assert_eq!(status_and_body(&sim, &monitor, &t).await.0, 200);
    let (status, _, body) = status_and_body(&sim, &one, &t).await;
    assert_eq!(status, 503);
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["errorCode"], "SERVICE_UNAVAILABLE");
    assert_eq!(status_and_body(&sim, &esign, &t).await.0, 503);
    assert_eq!(status_and_body(&sim, &one, &t).await.0, 200);
    // Admin failures come in the Admin error shape.
    sim.fail_next_on(Api::Admin, 1, 500);
    let (status, _, body) = status_and_body(&sim, &admin, &t).await;
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(status, 500);
    assert!(
        v["error"].is_string() && v["error_description"].is_string(),
        "{v}"
    );
    assert_eq!(sim.stats().faults_injected, 3);
}

#[tokio::test]
async fn userinfo_base_uri_can_be_anything() {
    let sim = sim_with(0, 1).await;
    let t = token(&sim, ALL).await;
    let base_uris = |v: &Value| -> Vec<String> {
        v["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .map(|a| a["base_uri"].as_str().expect("base_uri").to_string())
            .collect()
    };
    sim.set_base_uri(Some("not a url"));
    let (_, v) = json_of(get(&sim, "/oauth/userinfo", &t).await).await;
    assert!(base_uris(&v).iter().all(|b| b == "not a url"));
    sim.set_base_uri(None);
    let (_, v) = json_of(get(&sim, "/oauth/userinfo", &t).await).await;
    assert!(base_uris(&v).iter().all(|b| *b == sim.base_url()));
}

/// The status of a control call (0 when it could not be sent).
fn sent(r: reqwest::Result<reqwest::Response>) -> u16 {
    r.map(|r| r.status().as_u16()).unwrap_or(0)
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
    assert_eq!(sent(post("fail_next?n=1&status=500").await), 200);
    assert_eq!(sent(post("faults?error_rate=2").await), 400);
    let t = token(&sim, "signature impersonation").await;
    let monitor = "/api/v2.0/datasets/monitor/stream";
    assert_eq!(status_and_body(&sim, monitor, &t).await.0, 500);
    assert_eq!(sent(post("rate_limit?limit=1&window_secs=3600").await), 200);
    assert_eq!(status_and_body(&sim, monitor, &t).await.0, 200);
    assert_eq!(status_and_body(&sim, monitor, &t).await.0, 429);
    assert_eq!(sent(post("revoke").await), 200);
    let stats = http.get(format!("{base}/_sim/stats")).send().await;
    let (_, v) = json_of(stats.expect("stats")).await;
    assert_eq!(v["token_grants"], 1);
    assert_eq!(v["rate_limited"], 1);
    assert_eq!(v["statuses"]["500"], 1);
}

#[tokio::test]
async fn control_endpoints_drive_the_behaviour_knobs() {
    let sim = sim_with(5, 12).await;
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let call = |m: reqwest::Method, p: &str| http.request(m, format!("{base}/_sim/{p}")).send();
    let post = |p: &str| call(reqwest::Method::POST, p);
    let t = token(&sim, ALL).await;
    let (monitor, admin, esign) = paths();

    let (_, v) = json_of(post("esign/unknown?n=2").await.expect("unknown")).await;
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(2));
    assert_eq!(sim.esign_unknown_user_ids().len(), 2);
    assert_eq!(sent(post("esign/unknown_status?status=404").await), 200);
    let unknown = sim.esign_unknown_user_ids()[0].clone();
    assert_eq!(
        status_and_body(&sim, &format!("{esign}/{unknown}"), &t)
            .await
            .0,
        404
    );
    assert_eq!(
        sent(call(reqwest::Method::DELETE, "esign/unknown").await),
        200
    );
    assert!(sim.esign_unknown_user_ids().is_empty());
    let first = sim.user_ids()[0].clone();
    let (_, v) = json_of(
        post(&format!("esign/unknown?ids={first}"))
            .await
            .expect("ids"),
    )
    .await;
    assert_eq!(v["ids"], serde_json::json!([first]));

    assert_eq!(
        sent(post("esign/dates?offset_secs=-28800&format=iso").await),
        200
    );
    let known = sim.user_ids()[1].clone();
    let (_, _, body) = status_and_body(&sim, &format!("{esign}/{known}"), &t).await;
    assert!(body.contains("-08:00\""), "{body}");
    assert_eq!(sent(post("esign/dates?format=weird").await), 400);
    let (_, v) = json_of(post("esign/list/omit?n=2").await.expect("omit")).await;
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(2));
    let (_, v) = json_of(post("esign/list/undated?n=1").await.expect("undated")).await;
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(1));
    assert_eq!(sim.esign_list_undated_ids().len(), 1);

    assert_eq!(sent(post("admin/next?mode=relative").await), 200);
    let (_, v) = json_of(get(&sim, &format!("{admin}&take=5"), &t).await).await;
    assert!(
        v["paging"]["next"]
            .as_str()
            .is_some_and(|n| n.starts_with('/')),
        "{v}"
    );
    assert_eq!(
        sent(post("admin/next?mode=http%3A%2F%2Fexample.test").await),
        200
    );
    let (_, v) = json_of(get(&sim, &format!("{admin}&take=5"), &t).await).await;
    assert!(v["paging"]["next"]
        .as_str()
        .is_some_and(|n| n.starts_with("http://example.test/")));
    assert_eq!(sent(post("admin/next?mode=sideways").await), 400);
    let order = sim.user_ids();
    assert_eq!(sent(post("admin/reshuffle").await), 200);
    assert_ne!(sim.user_ids(), order);
    assert_eq!(sent(post("admin/shuffle?each_request=true").await), 200);
    assert_eq!(sent(post("admin/shuffle?each_request=maybe").await), 400);

    assert_eq!(sent(post("garble_next?api=monitor&n=1").await), 200);
    let (status, _, body) = status_and_body(&sim, &monitor, &t).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("<html>"));
    assert_eq!(sent(post("garble_next?api=nope").await), 400);
    assert_eq!(sent(post("fail_next?api=esign&n=1&status=503").await), 200);
    assert_eq!(status_and_body(&sim, &monitor, &t).await.0, 200);
    assert_eq!(status_and_body(&sim, &esign, &t).await.0, 503);

    assert_eq!(sent(post("base_uri?value=gopher%3A%2F%2Fx").await), 200);
    let (_, v) = json_of(get(&sim, "/oauth/userinfo", &t).await).await;
    assert_eq!(v["accounts"][0]["base_uri"], "gopher://x");
    assert_eq!(sent(call(reqwest::Method::DELETE, "base_uri").await), 200);
    let (_, v) = json_of(get(&sim, "/oauth/userinfo", &t).await).await;
    assert_eq!(v["accounts"][0]["base_uri"], base.as_str());
}

#[tokio::test]
async fn headers_next_lays_hostile_rate_limit_headers_over_the_next_answers() {
    let sim = sim_with(10, 5).await;
    let t = token(&sim, ALL).await;
    let (monitor, admin, _) = paths();
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    sim.headers_next(
        Api::Monitor,
        1,
        Some(429),
        &[("retry-after", "18446744073709551615")],
    )
    .unwrap();
    sim.headers_next(
        Api::Monitor,
        1,
        None,
        &[
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "9223372036854775807"),
        ],
    )
    .unwrap();
    // Admin is untouched.
    let r = get(&sim, &admin, &t).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "retry-after").is_empty());
    let r = get(&sim, &monitor, &t).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), ["18446744073709551615"]);
    let r = get(&sim, &monitor, &t).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "x-ratelimit-remaining"),
        ["0"],
        "replaced, not added"
    );
    assert_eq!(header(&r, "x-ratelimit-reset"), ["9223372036854775807"]);
    assert!(r.text().await.unwrap().starts_with("{\"endCursor\""));
    let r = get(&sim, &monitor, &t).await;
    assert_ne!(
        header(&r, "x-ratelimit-remaining"),
        ["0"],
        "one answer only"
    );
    // Names outside the rate-limit headers and impossible values are refused.
    assert!(sim
        .headers_next(Api::Monitor, 1, None, &[("Location", "x")])
        .is_err());
    assert!(sim
        .headers_next(Api::Monitor, 1, None, &[("Retry-After", "a\nb")])
        .is_err());
    assert!(sim.headers_next(Api::Monitor, 1, Some(42), &[]).is_err());
    // And through the control endpoint.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/_sim/headers_next?api=admin&status=429&header=Retry-After:Fri,%2031%20Dec%209999%2023:59:59%20GMT",
        sim.base_url()
    );
    assert_eq!(sent(http.post(&url).send().await), 200);
    let r = get(&sim, &admin, &t).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), ["Fri, 31 Dec 9999 23:59:59 GMT"]);
    let bad = format!(
        "{}/_sim/headers_next?api=admin&header=Set-Cookie:x",
        sim.base_url()
    );
    assert_eq!(sent(http.post(&bad).send().await), 400);
}
