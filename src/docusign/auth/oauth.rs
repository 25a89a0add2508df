//! The OAuth side of Docusign: scopes per event type, the consent URL, the JWT audience, the
//! errors a grant can end in, and userinfo.

use crate::record::EventType;
use crate::state::StateError;
use serde::Deserialize;

/// Scopes customer events need.
pub const CUSTOMER_EVENT_SCOPES: &[&str] = &["signature", "impersonation"];
/// Scopes audit users need.
pub const AUDIT_USER_SCOPES: &[&str] = &[
    "signature",
    "impersonation",
    "organization_read",
    "user_read",
];

/// The space-separated scopes the given event types need, in a stable order.
pub fn scopes_for(event_types: &[EventType]) -> String {
    let mut scopes: Vec<&str> = Vec::new();
    for et in event_types {
        let needed = match et {
            EventType::CustomerEvents => CUSTOMER_EVENT_SCOPES,
            EventType::AuditUsers => AUDIT_USER_SCOPES,
        };
        for s in needed {
            if !scopes.contains(s) {
                scopes.push(s);
            }
        }
    }
    scopes.join(" ")
}

/// The individual consent URL for `scopes`.
pub fn consent_url(oauth: &str, scopes: &str, integration_key: &str, redirect_url: &str) -> String {
    let mut url = match url::Url::parse(&format!("{}/oauth/auth", oauth.trim_end_matches('/'))) {
        Ok(u) => u,
        Err(_) => return format!("{oauth}/oauth/auth"),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("scope", scopes)
        .append_pair("client_id", integration_key)
        .append_pair("redirect_uri", redirect_url);
    url.to_string()
}

/// The `aud` claim: the OAuth server's authority without scheme (`account-d.docusign.com`).
pub fn audience(oauth: &str) -> String {
    match url::Url::parse(oauth) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => oauth.to_string(),
        },
        Err(_) => oauth
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("integration {integration}: consent is missing: user {user_id} has not granted the scopes \"{scopes}\" to integration key {integration_key}. Open this URL while signed in as that user (or an administrator) and accept, then try again: {url}")]
    ConsentRequired {
        integration: String,
        user_id: String,
        integration_key: String,
        scopes: String,
        url: String,
    },
    #[error("integration {integration}: Docusign does not know integration key {integration_key} (issuer_not_found): check integration_key and that environment is the one the key was created in")]
    IssuerNotFound {
        integration: String,
        integration_key: String,
    },
    #[error("integration {integration}: Docusign rejected the assertion (no_valid_keys_or_signatures): the private key does not belong to integration key {integration_key} (add its public key under the app's RSA keypairs), or this host's clock is off (check NTP)")]
    BadSignature {
        integration: String,
        integration_key: String,
    },
    #[error("integration {integration}: token grant refused by {oauth} (HTTP {status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        integration: String,
        oauth: String,
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// A 3xx from the OAuth server: not followed, so the assertion (token request) or the token
    /// (userinfo) went nowhere else. `location` is `scheme://host[:port]/path`.
    #[error("integration {integration}: the OAuth server {oauth} answered the {what} with HTTP {status}, a redirect to {location}: redirects are not followed, so nothing was sent there; set endpoints.oauth to the address that answers")]
    Redirected {
        integration: String,
        oauth: String,
        what: &'static str,
        status: u16,
        location: String,
    },
    #[error("integration {integration}: cannot reach OAuth server {oauth}: {message}")]
    Transport {
        integration: String,
        oauth: String,
        message: String,
    },
    #[error("integration {integration}: malformed answer from {url}: {message}")]
    Malformed {
        integration: String,
        url: String,
        message: String,
    },
    #[error("integration {integration}: cannot sign the assertion: {message}")]
    Sign {
        integration: String,
        message: String,
    },
    #[error("integration {integration}: {source}")]
    State {
        integration: String,
        source: StateError,
    },
}

impl AuthError {
    /// Errors that a retry cannot fix (the operator must act).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            AuthError::ConsentRequired { .. }
                | AuthError::IssuerNotFound { .. }
                | AuthError::BadSignature { .. }
                | AuthError::Redirected { .. }
                | AuthError::Sign { .. }
        )
    }

    /// Errors a grant retried a moment later may not meet again: the OAuth server could not be
    /// reached, timed out, or answered 5xx, 408 or 429.
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Transport { .. } => true,
            AuthError::Refused { status, .. } => *status >= 500 || matches!(*status, 408 | 429),
            _ => false,
        }
    }
}

#[derive(serde::Serialize)]
pub(super) struct Claims<'a> {
    pub(super) iss: &'a str,
    pub(super) sub: &'a str,
    pub(super) aud: &'a str,
    pub(super) iat: i64,
    pub(super) exp: i64,
    pub(super) scope: &'a str,
}

#[derive(Deserialize)]
pub(super) struct TokenResponse {
    pub(super) access_token: Option<String>,
    /// Any number (or none): see `lifetime`, which bounds it.
    #[serde(default, deserialize_with = "super::lifetime::lenient_seconds")]
    pub(super) expires_in: Option<i64>,
    pub(super) scope: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct OAuthError {
    pub(super) error: Option<String>,
    pub(super) error_description: Option<String>,
}

/// `/oauth/userinfo`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserInfo {
    #[serde(default)]
    pub sub: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub accounts: Vec<UserAccount>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserAccount {
    pub account_id: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub account_name: String,
    #[serde(default)]
    pub base_uri: String,
}

impl UserInfo {
    /// The account with `account_id`, else the default account.
    pub fn account(&self, account_id: Option<&str>) -> Option<&UserAccount> {
        match account_id {
            Some(id) => self.accounts.iter().find(|a| a.account_id == id),
            None => self
                .accounts
                .iter()
                .find(|a| a.is_default)
                .or(self.accounts.first()),
        }
    }
}
