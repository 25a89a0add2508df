//! What the OAuth server answers: a redirect (an error: never followed), a body read with a
//! bound (16 KiB a token answer, 256 KiB userinfo), a refusal turned into the error an operator
//! can act on (its text cut), and userinfo.

use super::oauth::OAuthError;
use super::{AuthError, Authenticator, UserInfo, MAX_USERINFO_ANSWER};
use crate::docusign::answer::{read_capped, Read};
use crate::support::untrusted::{cut, cut_bytes, describe_location, MESSAGE_CHARS, SHORT_CHARS};
use std::time::Duration;

impl Authenticator {
    /// A 3xx to the `what` request for `url`: an error; the answer is dropped unread.
    pub(super) fn redirected(
        &self,
        what: &'static str,
        status: u16,
        resp: &reqwest::Response,
        url: &str,
    ) -> AuthError {
        AuthError::Redirected {
            integration: self.integration.clone(),
            oauth: self.endpoints.oauth.clone(),
            what,
            status,
            location: describe_location(resp.headers(), url),
        }
    }

    /// An answer's body, at most `cap` bytes (a larger one is an error, not read whole).
    pub(super) async fn read_body(
        &self,
        resp: reqwest::Response,
        cap: usize,
        url: &str,
    ) -> Result<bytes::Bytes, AuthError> {
        let status = resp.status().as_u16();
        read_capped(resp, cap).await.map_err(|e| match e {
            Read::TooLarge => AuthError::Malformed {
                integration: self.integration.clone(),
                url: url.to_string(),
                message: format!(
                    "the answer (HTTP {status}) is larger than {} KiB, the most it may hold",
                    cap >> 10
                ),
            },
            Read::Failed(e) => self.transport_error(&e),
        })
    }

    pub(super) fn grant_error(&self, status: u16, body: &[u8]) -> AuthError {
        let parsed: Option<OAuthError> = serde_json::from_slice(body).ok();
        let (error, description) = match parsed {
            Some(OAuthError {
                error,
                error_description,
            }) => (error.unwrap_or_default(), error_description),
            None => (String::new(), None),
        };
        let integration = self.integration.clone();
        let integration_key = self.integration_key.clone();
        match (error.as_str(), description.as_deref()) {
            ("consent_required", _) => AuthError::ConsentRequired {
                integration,
                user_id: self.user_id.clone(),
                integration_key,
                scopes: self.scopes.clone(),
                url: self.consent_url(),
            },
            ("invalid_grant", Some("issuer_not_found")) => AuthError::IssuerNotFound {
                integration,
                integration_key,
            },
            ("invalid_grant", Some("no_valid_keys_or_signatures")) => AuthError::BadSignature {
                integration,
                integration_key,
            },
            // What the server said, cut: it reaches logs, run history and `/readyz`.
            _ => AuthError::Refused {
                integration,
                oauth: self.endpoints.oauth.clone(),
                status,
                error: if error.is_empty() {
                    cut_bytes(body, MESSAGE_CHARS)
                } else {
                    cut(&error, SHORT_CHARS)
                },
                description: description.map(|d| cut(&d, MESSAGE_CHARS)),
            },
        }
    }

    /// `GET /oauth/userinfo` with the current token.
    pub async fn userinfo(&self) -> Result<UserInfo, AuthError> {
        let token = self.access_token().await?;
        let url = format!("{}/oauth/userinfo", self.endpoints.oauth);
        let transport = |e: reqwest::Error| self.transport_error(&e);
        let resp = self
            .http
            .get(&url)
            .bearer_auth(token.expose())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(self.redirected("userinfo request", status.as_u16(), &resp, &url));
        }
        let body = self.read_body(resp, MAX_USERINFO_ANSWER, &url).await?;
        if !status.is_success() {
            if status.as_u16() == 401 {
                self.invalidate(&token).await?;
            }
            return Err(AuthError::Refused {
                integration: self.integration.clone(),
                oauth: self.endpoints.oauth.clone(),
                status: status.as_u16(),
                error: "userinfo failed".into(),
                description: Some(cut_bytes(
                    &crate::support::untrusted::without_secret(&body, token.expose()),
                    MESSAGE_CHARS,
                )),
            });
        }
        serde_json::from_slice(&body).map_err(|e| AuthError::Malformed {
            integration: self.integration.clone(),
            url,
            message: cut(&e.to_string(), MESSAGE_CHARS),
        })
    }
}
