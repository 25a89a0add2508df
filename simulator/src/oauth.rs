//! The OAuth host: JWT Grant token endpoint, userinfo, and the consent page.

use crate::core::{lock, Sim, Token};
use crate::data;
use crate::http::{Ctx, Resp};
use crate::knobs::Api;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longest assertion lifetime accepted (`exp - iat`).
const MAX_LIFETIME: i64 = 3600;
/// How far in the future `iat` may be.
const MAX_SKEW: i64 = 300;

fn validation(verify: bool) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims = Default::default();
    if !verify {
        v.insecure_disable_signature_validation();
    }
    v
}

fn invalid_grant(description: &str) -> Resp {
    Resp::oauth_error("invalid_grant", Some(description))
}

/// Whether `aud` names the host the request was sent to (`127.0.0.1:PORT` or `localhost:PORT`).
fn audience_ok(aud: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    if aud == host {
        return true;
    }
    let port = host.rsplit_once(':').map(|(_, p)| p);
    match (aud.rsplit_once(':'), port) {
        (Some((name, p)), Some(hp)) => {
            p == hp && matches!(name, "localhost" | "127.0.0.1") && host_is_loopback(host)
        }
        _ => false,
    }
}

fn host_is_loopback(host: &str) -> bool {
    host.starts_with("127.0.0.1:") || host.starts_with("localhost:")
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// `POST /oauth/token`.
pub(crate) fn token(sim: &Sim, ctx: &Ctx) -> Resp {
    let resp = grant(sim, ctx);
    sim.bump(|s| {
        if resp.status == 200 {
            s.token_grants += 1;
        } else {
            s.token_errors += 1;
        }
    });
    resp
}

fn grant(sim: &Sim, ctx: &Ctx) -> Resp {
    let form = form(&ctx.body);
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER) => {}
        Some(_) => return Resp::oauth_error("unsupported_grant_type", None),
        None => {
            return Resp::oauth_error("invalid_request", Some("grant_type is missing"));
        }
    }
    let Some(assertion) = form.get("assertion").filter(|a| !a.is_empty()) else {
        return Resp::oauth_error("invalid_request", Some("assertion is missing"));
    };
    let no_keys = || invalid_grant("no_valid_keys_or_signatures");
    let header = match jsonwebtoken::decode_header(assertion) {
        Ok(h) => h,
        Err(_) => return no_keys(),
    };
    if header.alg != Algorithm::RS256 {
        return no_keys();
    }
    let unverified = match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
        assertion,
        &DecodingKey::from_secret(&[]),
        &validation(false),
    ) {
        Ok(d) => d.claims,
        Err(_) => return no_keys(),
    };
    let iss = unverified.get("iss").and_then(|v| v.as_str()).unwrap_or("");
    let Some(client) = sim.cfg.clients.iter().find(|c| c.integration_key == iss) else {
        return invalid_grant("issuer_not_found");
    };
    let Ok(key) = DecodingKey::from_rsa_pem(client.public_key_pem.as_bytes()) else {
        return no_keys();
    };
    let claims = match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
        assertion,
        &key,
        &validation(true),
    ) {
        Ok(d) => d.claims,
        Err(_) => return no_keys(),
    };
    let str_claim = |k: &str| claims.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let sub = str_claim("sub");
    if sub.is_empty() || !sub.eq_ignore_ascii_case(&client.user_id) {
        return invalid_grant("user_not_found");
    }
    if !audience_ok(str_claim("aud"), ctx.host()) {
        return invalid_grant("invalid_audience");
    }
    let num = |k: &str| claims.get(k).and_then(|v| v.as_i64());
    let (Some(iat), Some(exp)) = (num("iat"), num("exp")) else {
        return invalid_grant("missing_iat_or_exp");
    };
    let now = data::now_secs();
    if exp <= now {
        return invalid_grant("expired_assertion");
    }
    if exp > iat + MAX_LIFETIME {
        return invalid_grant("assertion_lifetime_exceeds_one_hour");
    }
    if iat > now + MAX_SKEW {
        return invalid_grant("iat_in_the_future");
    }
    let scopes: BTreeSet<String> = str_claim("scope")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let consented = lock(&sim.consents)
        .get(&client.integration_key)
        .cloned()
        .unwrap_or_default();
    if !scopes.is_subset(&consented) {
        return Resp::oauth_error("consent_required", None);
    }
    let token = random_token();
    let lifetime = sim.cfg.token_lifetime.max(Duration::from_secs(1));
    lock(&sim.tokens).insert(
        token.clone(),
        Token {
            user_id: client.user_id.clone(),
            scopes: scopes.clone(),
            expires: Instant::now() + lifetime,
        },
    );
    let scope = scopes.into_iter().collect::<Vec<_>>().join(" ");
    Resp::json(
        200,
        &serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "scope": scope,
        }),
    )
}

fn random_token() -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let s: String = (0..48)
        .map(|_| alphabet[r.gen_range(0..alphabet.len())] as char)
        .collect();
    format!("eyJ0eXAiOiJNVCJ9.{s}")
}

/// Check the bearer token and its scopes; `Err` is the answer to send (in `api`'s error shape).
pub(crate) fn authorize(
    sim: &Sim,
    ctx: &Ctx,
    needed: &[&str],
    api: Option<Api>,
) -> Result<Token, Resp> {
    let invalid = || {
        Resp::api_error(
            api,
            401,
            "AUTHORIZATION_INVALID_TOKEN",
            "The access token provided is expired, revoked or malformed.",
        )
    };
    let Some(bearer) = ctx.bearer() else {
        return Err(invalid());
    };
    let token = lock(&sim.tokens).get(bearer).cloned();
    let token = match token {
        Some(t) if t.expires > Instant::now() => t,
        _ => return Err(invalid()),
    };
    if let Some(missing) = needed.iter().find(|s| !token.scopes.contains(**s)) {
        return Err(Resp::api_error(
            api,
            403,
            "AUTHORIZATION_INSUFFICIENT_SCOPE",
            &format!("The access token lacks the '{missing}' scope required by this endpoint."),
        ));
    }
    Ok(token)
}

/// `GET /oauth/userinfo`.
pub(crate) fn userinfo(sim: &Sim, ctx: &Ctx) -> Resp {
    let token = match authorize(sim, ctx, &[], None) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let org = serde_json::json!({"organization_id": sim.cfg.organization_id});
    let base_uri = sim.knobs().base_uri.unwrap_or_else(|| sim.base_url.clone());
    Resp::json(
        200,
        &serde_json::json!({
            "sub": token.user_id,
            "name": "Sim Administrator",
            "given_name": "Sim",
            "family_name": "Administrator",
            "created": "2021-06-01T10:00:00.000Z",
            "email": "sim.admin@example.com",
            "accounts": [
                {
                    "account_id": sim.other_account_id,
                    "is_default": true,
                    "account_name": "Sandbox Account",
                    "base_uri": base_uri,
                    "organization": org,
                },
                {
                    "account_id": sim.cfg.account_id,
                    "is_default": false,
                    "account_name": "Production Account",
                    "base_uri": base_uri,
                    "organization": org,
                }
            ]
        }),
    )
}

/// `GET /oauth/auth`: records consent as if the user clicked Accept, then redirects with a code.
pub(crate) fn auth(sim: &Sim, ctx: &Ctx) -> Resp {
    let bad = |what: &str| {
        Resp {
            content_type: "text/plain; charset=utf-8",
            ..Resp::oauth_error("invalid_request", None)
        }
        .with_body(format!("Invalid consent request: {what}."))
    };
    if ctx.param("response_type") != Some("code") {
        return bad("response_type must be 'code'");
    }
    let Some(client_id) = ctx.param("client_id").filter(|c| !c.is_empty()) else {
        return bad("client_id is missing");
    };
    if !sim
        .cfg
        .clients
        .iter()
        .any(|c| c.integration_key == client_id)
    {
        return bad("client_id is not a registered integration key");
    }
    let Some(redirect) = ctx.param("redirect_uri").filter(|r| !r.is_empty()) else {
        return bad("redirect_uri is missing");
    };
    let mut scopes: Vec<String> = ctx
        .param("scope")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if let Some(admin) = ctx.param("admin_consent_scope") {
        scopes.extend(admin.split_whitespace().map(str::to_string));
    }
    if scopes.is_empty() {
        return bad("scope is missing");
    }
    sim.add_consent(client_id, scopes);
    let code = random_token();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect}{sep}code={code}");
    if let Some(state) = ctx.param("state") {
        let enc: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
        location.push_str("&state=");
        location.push_str(&enc);
    }
    Resp {
        status: 302,
        body: Vec::new(),
        content_type: "text/plain; charset=utf-8",
        headers: vec![("Location", location)],
    }
}

impl Resp {
    fn with_body(mut self, body: String) -> Resp {
        self.body = body.into_bytes();
        self
    }
}
