//! OAuth JWT Grant: RS256 assertions, the cached access token (memory and state database),
//! userinfo and consent URLs.
//!
//! One [`Authenticator`] per integration. Concurrent callers that need a new token share one
//! grant (the token lock is held while granting). Tokens are renewed `margin` before they
//! expire; the margin is 10 minutes, or a quarter of the token's lifetime when that is shorter.
//!
//! `answers`: what the OAuth server answers (redirects refused, bodies bounded, refusals cut,
//! userinfo); `grant_retry`: transient grant failures retried; `oauth`: scopes, errors, types.

use crate::config::{Endpoints, IntegrationConfig};
use crate::state::{CachedToken, State, StateError};
use crate::support::clock::now_unix;
use crate::support::key::PrivateKey;
use crate::support::secret::Secret;
use crate::support::untrusted::{cut, MESSAGE_CHARS};
use crate::telemetry::events::TokenGrant;

mod answers;
mod grant_retry;
pub mod lifetime;
mod oauth;
pub use oauth::*;

/// How long an assertion is valid (Docusign allows at most one hour).
const ASSERTION_LIFETIME: i64 = 3600;
/// `iat` is set this far in the past so a host clock slightly ahead of Docusign's is tolerated.
const CLOCK_SKEW: i64 = 60;
/// The most a token answer may hold: `{"access_token", "token_type", "expires_in", "scope"}` is
/// well under 4 KiB (Docusign's access tokens are about 1.5 KiB).
pub const MAX_TOKEN_ANSWER: usize = 16 << 10;
/// The most a userinfo answer may hold: a few hundred bytes per account, so room for some 800
/// accounts; a bigger answer is refused rather than read whole.
pub const MAX_USERINFO_ANSWER: usize = 256 << 10;

/// Gets and caches access tokens for one integration.
pub struct Authenticator {
    integration: String,
    integration_key: String,
    user_id: String,
    redirect_url: String,
    endpoints: Endpoints,
    scopes: String,
    key: PrivateKey,
    fingerprint: String,
    state: State,
    http: reqwest::Client,
    /// Attempts per grant (the first included) and the backoff between them.
    grant_attempts: u32,
    grant_backoff: crate::support::backoff::Backoff,
    current: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("integration", &self.integration)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(
        cfg: &IntegrationConfig,
        key: PrivateKey,
        state: State,
        http: reqwest::Client,
    ) -> Self {
        let endpoints = cfg.endpoints();
        let scopes = scopes_for(&cfg.event_types);
        let fingerprint = format!(
            "{}|{}|{}|{}|{}",
            key.fingerprint(),
            cfg.integration_key,
            cfg.user_id,
            endpoints.oauth,
            scopes
        );
        Authenticator {
            integration: cfg.name.clone(),
            integration_key: cfg.integration_key.clone(),
            user_id: cfg.user_id.clone(),
            redirect_url: cfg.redirect_url.clone(),
            endpoints,
            scopes,
            key,
            fingerprint,
            state,
            http,
            grant_attempts: cfg.retry.max_attempts.max(1),
            grant_backoff: crate::support::backoff::Backoff::new(
                cfg.retry.initial.0,
                cfg.retry.max.0,
            ),
            current: tokio::sync::Mutex::new(None),
        }
    }

    pub fn scopes(&self) -> &str {
        &self.scopes
    }

    pub fn consent_url(&self) -> String {
        consent_url(
            &self.endpoints.oauth,
            &self.scopes,
            &self.integration_key,
            &self.redirect_url,
        )
    }

    fn usable(&self, t: &CachedToken, now: i64) -> bool {
        if t.fingerprint != self.fingerprint || t.access_token.is_empty() {
            return false;
        }
        lifetime::usable(t.obtained_at, t.expires_at, now)
    }

    /// A valid access token: the cached one, else a new grant (shared by concurrent callers).
    pub async fn access_token(&self) -> Result<Secret, AuthError> {
        let mut current = self.current.lock().await;
        let now = now_unix();
        if let Some(t) = current.as_ref() {
            if self.usable(t, now) {
                return Ok(t.access_token.clone());
            }
        }
        let stored = self
            .state
            .token(&self.integration)
            .map_err(|e| self.state_err(e))?;
        if let Some(t) = stored {
            if self.usable(&t, now) {
                let token = t.access_token.clone();
                *current = Some(t);
                return Ok(token);
            }
        }
        // With replicas, only the holder of the integration's lease grants: two replicas never
        // grant for one integration at once, and a takeover finds the holder's token cached.
        if !self.state.holds(&self.integration) {
            return Err(self.state_err(StateError::Fenced {
                integration: self.integration.clone(),
            }));
        }
        let t = self.grant_with_retries().await?;
        self.state
            .save_token(&self.integration, &t)
            .map_err(|e| self.state_err(e))?;
        let token = t.access_token.clone();
        *current = Some(t);
        Ok(token)
    }

    /// Drop `rejected` (a token an API refused with 401) so the next call grants a new one.
    /// A token already replaced by a concurrent caller is left alone.
    pub async fn invalidate(&self, rejected: &Secret) -> Result<(), AuthError> {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|t| &t.access_token == rejected)
        {
            *current = None;
        }
        if let Some(t) = self
            .state
            .token(&self.integration)
            .map_err(|e| self.state_err(e))?
        {
            if &t.access_token == rejected {
                self.state
                    .clear_token(&self.integration)
                    .map_err(|e| self.state_err(e))?;
            }
        }
        Ok(())
    }

    /// Forget the cached token (memory and state).
    pub async fn reset(&self) -> Result<bool, AuthError> {
        *self.current.lock().await = None;
        self.state
            .clear_token(&self.integration)
            .map_err(|e| self.state_err(e))
    }

    fn transport_error(&self, e: &reqwest::Error) -> AuthError {
        AuthError::Transport {
            integration: self.integration.clone(),
            oauth: self.endpoints.oauth.clone(),
            message: crate::support::http_client::describe_reqwest_error(e),
        }
    }

    fn state_err(&self, source: StateError) -> AuthError {
        AuthError::State {
            integration: self.integration.clone(),
            source,
        }
    }

    fn assertion(&self, now: i64) -> Result<String, AuthError> {
        let aud = audience(&self.endpoints.oauth);
        let iat = now.saturating_sub(CLOCK_SKEW);
        let claims = Claims {
            iss: &self.integration_key,
            sub: &self.user_id,
            aud: &aud,
            iat,
            exp: iat.saturating_add(ASSERTION_LIFETIME),
            scope: &self.scopes,
        };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        jsonwebtoken::encode(&header, &claims, self.key.encoding_key()).map_err(|e| {
            AuthError::Sign {
                integration: self.integration.clone(),
                message: e.to_string(),
            }
        })
    }

    /// One token request (see `grant_with_retries`).
    async fn grant(&self) -> Result<CachedToken, AuthError> {
        let now = now_unix();
        let assertion = self.assertion(now)?;
        let url = format!("{}/oauth/token", self.endpoints.oauth);
        let transport = |e: reqwest::Error| self.transport_error(&e);
        let resp = self
            .http
            .post(&url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.is_redirection() {
            // Not followed: a 307/308 would re-post the signed assertion wherever it points.
            TokenGrant {
                integration: &self.integration,
                success: false,
            }
            .emit();
            return Err(self.redirected("token request", status.as_u16(), &resp, &url));
        }
        let body = self.read_body(resp, MAX_TOKEN_ANSWER, &url).await?;
        TokenGrant {
            integration: &self.integration,
            success: status.is_success(),
        }
        .emit();
        if !status.is_success() {
            // A server that echoes the request never gets the assertion quoted.
            let body = crate::support::untrusted::without_secret(&body, &assertion);
            return Err(self.grant_error(status.as_u16(), &body));
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| AuthError::Malformed {
                integration: self.integration.clone(),
                url: url.clone(),
                message: format!(
                    "token response is not the expected JSON: {}",
                    cut(&e.to_string(), MESSAGE_CHARS)
                ),
            })?;
        let access_token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::Malformed {
                integration: self.integration.clone(),
                url: url.clone(),
                message: "token response has no access_token".into(),
            })?;
        let (expires_in, clamped) = lifetime::lifetime(parsed.expires_in);
        if clamped {
            tracing::warn!(integration = %self.integration, answered = parsed.expires_in, used = expires_in, "the token answer's expires_in is outside {}..={} s: using {expires_in} s", lifetime::MIN_LIFETIME, lifetime::MAX_LIFETIME);
        }
        tracing::info!(integration = %self.integration, expires_in, "OAuth grant obtained");
        Ok(CachedToken {
            access_token: Secret::new(access_token),
            expires_at: lifetime::expires_at(now, expires_in),
            obtained_at: now,
            scopes: parsed.scope.unwrap_or_else(|| self.scopes.clone()),
            fingerprint: self.fingerprint.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::EventType;

    #[test]
    fn scopes_follow_event_types() {
        assert_eq!(
            scopes_for(&[EventType::CustomerEvents]),
            "signature impersonation"
        );
        assert_eq!(
            scopes_for(&[EventType::CustomerEvents, EventType::AuditUsers]),
            "signature impersonation organization_read user_read"
        );
    }

    #[test]
    fn consent_url_encodes_its_parameters() {
        let u = consent_url(
            "https://account-d.docusign.com",
            "signature impersonation",
            "abc-123",
            "https://localhost/cb?x=1",
        );
        assert_eq!(
            u,
            "https://account-d.docusign.com/oauth/auth?response_type=code&scope=signature+impersonation&client_id=abc-123&redirect_uri=https%3A%2F%2Flocalhost%2Fcb%3Fx%3D1"
        );
    }

    #[test]
    fn audience_is_the_host_without_scheme() {
        assert_eq!(
            audience("https://account-d.docusign.com"),
            "account-d.docusign.com"
        );
        assert_eq!(audience("http://127.0.0.1:4567"), "127.0.0.1:4567");
    }
}
