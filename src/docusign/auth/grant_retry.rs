//! Token grants retried inside the cycle: a grant that fails for a transient reason (the OAuth
//! server unreachable, a timeout, 5xx/408/429) is tried again with backoff, up to the
//! integration's `retry.max_attempts`; permanent answers (consent_required, invalid_grant) and
//! every other refusal end at once.

use super::{AuthError, Authenticator};
use crate::state::CachedToken;

impl Authenticator {
    /// A new token, retrying transient failures with the integration's backoff.
    pub(super) async fn grant_with_retries(&self) -> Result<CachedToken, AuthError> {
        let mut attempt = 0;
        loop {
            match self.grant().await {
                Err(e) if e.is_transient() && attempt + 1 < self.grant_attempts => {
                    let wait = self.grant_backoff.delay(attempt);
                    tracing::warn!(integration = %self.integration, attempt = attempt + 1, of = self.grant_attempts, wait_ms = wait.as_millis() as u64, "OAuth grant failed ({e}, which never quotes the assertion or a key); retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
