//! Simulator tests, OAuth side; shared helpers for `tests_api`.

use super::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::OnceLock;

pub(super) const IK: &str = "ik-1111";
pub(super) const USER: &str = "user-2222";
pub(super) const ALL: &str = "signature impersonation organization_read user_read";

/// One key pair for every test (generation is the slow part).
pub(super) fn keys() -> &'static (String, String) {
    static K: OnceLock<(String, String)> = OnceLock::new();
    K.get_or_init(|| generate_key_pair().expect("key generation"))
}

pub(super) fn client(scopes: &[&str]) -> SimClient {
    SimClient {
        integration_key: IK.into(),
        user_id: USER.into(),
        public_key_pem: keys().1.clone(),
        consented_scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

pub(super) async fn start(cfg: SimConfig) -> SimHandle {
    SimHandle::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start simulator")
}

pub(super) async fn start_default() -> SimHandle {
    start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        ..SimConfig::default()
    })
    .await
}

pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

pub(super) fn claims(sim: &SimHandle, scope: &str) -> Value {
    let t = now();
    json!({"iss": IK, "sub": USER, "aud": sim.audience(), "iat": t, "exp": t + 3600, "scope": scope})
}

pub(super) fn sign(claims: &Value, private_pem: &str) -> String {
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("encoding key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("sign")
}

pub(super) async fn post_token(sim: &SimHandle, assertion: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", sim.base_url()))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .expect("token request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(super) async fn token(sim: &SimHandle, scope: &str) -> String {
    let (status, body) = post_token(sim, &sign(&claims(sim, scope), &keys().0)).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub(super) async fn get(sim: &SimHandle, path_and_query: &str, token: &str) -> reqwest::Response {
    let url = if path_and_query.starts_with("http") {
        path_and_query.to_string()
    } else {
        format!("{}{}", sim.base_url(), path_and_query)
    };
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn expect_grant_error(sim: &SimHandle, claims: &Value, error: &str, description: &str) {
    let (status, body) = post_token(sim, &sign(claims, &keys().0)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_description"], description, "{body}");
}

#[tokio::test]
async fn valid_grant_returns_bearer_token() {
    let sim = start_default().await;
    let (status, body) = post_token(
        &sim,
        &sign(&claims(&sim, "signature impersonation"), &keys().0),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "impersonation signature");
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 20));
    // localhost:PORT is accepted as audience too.
    let mut c = claims(&sim, "signature");
    c["aud"] = format!("localhost:{}", sim.local_addr().port()).into();
    assert_eq!(post_token(&sim, &sign(&c, &keys().0)).await.0, 200);
    assert_eq!(sim.stats().token_grants, 2);
}

#[tokio::test]
async fn invalid_grants_are_refused_with_reasons() {
    let sim = start_default().await;
    let base = claims(&sim, "signature");
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    expect_grant_error(
        &sim,
        &with("iss", "nobody".into()),
        "invalid_grant",
        "issuer_not_found",
    )
    .await;
    expect_grant_error(
        &sim,
        &with("sub", "someone-else".into()),
        "invalid_grant",
        "user_not_found",
    )
    .await;
    expect_grant_error(
        &sim,
        &with("aud", "account-d.docusign.com".into()),
        "invalid_grant",
        "invalid_audience",
    )
    .await;
    let t = now();
    let expired = with("exp", (t - 10).into());
    expect_grant_error(&sim, &expired, "invalid_grant", "expired_assertion").await;
    let too_long = with("exp", (t + 7200).into());
    expect_grant_error(
        &sim,
        &too_long,
        "invalid_grant",
        "assertion_lifetime_exceeds_one_hour",
    )
    .await;
    let mut future = with("iat", (t + 900).into());
    future["exp"] = (t + 1800).into();
    expect_grant_error(&sim, &future, "invalid_grant", "iat_in_the_future").await;

    // Signed by another key.
    let (other_private, _) = generate_key_pair().expect("second key");
    let (status, body) = post_token(&sim, &sign(&base, &other_private)).await;
    assert_eq!(
        (status, body["error_description"].clone()),
        (400, json!("no_valid_keys_or_signatures"))
    );
    // HS256 instead of RS256.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &base,
        &EncodingKey::from_secret(b"k"),
    )
    .expect("hs");
    let (status, body) = post_token(&sim, &hs).await;
    assert_eq!(
        (status, body["error_description"].clone()),
        (400, json!("no_valid_keys_or_signatures"))
    );
    // Wrong grant type.
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", sim.base_url()))
        .form(&[("grant_type", "client_credentials"), ("assertion", "x")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "unsupported_grant_type");
    assert_eq!(sim.stats().token_grants, 0);
}

#[tokio::test]
async fn consent_required_until_consent_page_accepts() {
    let sim = start(SimConfig {
        clients: vec![client(&["signature", "impersonation"])],
        ..SimConfig::default()
    })
    .await;
    let (status, body) = post_token(&sim, &sign(&claims(&sim, ALL), &keys().0)).await;
    assert_eq!((status, body), (400, json!({"error": "consent_required"})));

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = format!(
        "{}/oauth/auth?response_type=code&scope=signature%20impersonation%20organization_read%20user_read&client_id={IK}&redirect_uri=https%3A%2F%2Flocalhost%2Fcb",
        sim.base_url()
    );
    let r = no_redirect.get(url).send().await.expect("consent");
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert!(
        location.starts_with("https://localhost/cb?code="),
        "{location}"
    );
    assert_eq!(
        post_token(&sim, &sign(&claims(&sim, ALL), &keys().0))
            .await
            .0,
        200
    );

    // Admin consent form, after consent was withdrawn.
    sim.set_consent(IK, &[]);
    assert_eq!(
        post_token(&sim, &sign(&claims(&sim, ALL), &keys().0))
            .await
            .0,
        400
    );
    let url = format!(
        "{}/oauth/auth?response_type=code&scope=openid&admin_consent_scope=signature%20impersonation%20organization_read%20user_read&client_id={IK}&redirect_uri=https%3A%2F%2Flocalhost",
        sim.base_url()
    );
    assert_eq!(
        no_redirect
            .get(url)
            .send()
            .await
            .expect("consent")
            .status()
            .as_u16(),
        302
    );
    assert_eq!(
        post_token(&sim, &sign(&claims(&sim, ALL), &keys().0))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn userinfo_lists_several_accounts() {
    let sim = start_default().await;
    let t = token(&sim, "signature impersonation").await;
    let r = get(&sim, "/oauth/userinfo", &t).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().contains_key("x-docusign-tracetoken"));
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["sub"], USER);
    let accounts = v["accounts"].as_array().expect("accounts");
    assert!(accounts.len() >= 2);
    let configured = accounts
        .iter()
        .find(|a| a["account_id"] == SimConfig::default().account_id.as_str())
        .expect("configured account");
    assert_eq!(configured["is_default"], false);
    assert_eq!(configured["base_uri"], sim.base_url().as_str());
    assert_eq!(
        configured["organization"]["organization_id"],
        SimConfig::default().organization_id.as_str()
    );
    assert!(accounts.iter().any(|a| a["is_default"] == true));
    assert_eq!(
        get(&sim, "/oauth/userinfo", "bogus")
            .await
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn tokens_expire_and_can_be_revoked() {
    let sim = start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        token_lifetime: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await;
    let (_, body) = post_token(&sim, &sign(&claims(&sim, ALL), &keys().0)).await;
    assert_eq!(body["expires_in"], 1);
    let short = body["access_token"].as_str().expect("token").to_string();
    assert_eq!(
        get(&sim, "/oauth/userinfo", &short).await.status().as_u16(),
        200
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = get(&sim, "/api/v2.0/datasets/monitor/stream", &short).await;
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["errorCode"], "AUTHORIZATION_INVALID_TOKEN");

    let fresh = token(&sim, ALL).await;
    sim.revoke_tokens();
    assert_eq!(
        get(&sim, "/api/v2.0/datasets/monitor/stream", &fresh)
            .await
            .status()
            .as_u16(),
        401
    );
}

#[test]
fn generated_keys_are_pkcs1_and_spki() {
    let (private, public) = keys();
    assert!(private.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
}
