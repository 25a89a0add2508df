//! The HTTP client for Docusign's APIs: bearer tokens (one re-grant on 401), retries with
//! exponential backoff and full jitter, rate-limit answers, and errors that name the
//! integration, the API, the status, Docusign's `errorCode` and the `X-DocuSign-TraceToken`.

pub use super::answer::MAX_ANSWER_BYTES;
use super::answer::{error_fields, header_str, read_capped, Read};
use super::Api;
use crate::config::HttpConfig;
use crate::docusign::auth::{AuthError, Authenticator};
use crate::support::backoff::Backoff;
use crate::support::http_client::{describe_reqwest_error, shared_client};
use crate::support::untrusted::{cut, describe_location, MESSAGE_CHARS};
use crate::telemetry::events::{ApiResponse, ApiRetry};
use bytes::Bytes;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("integration {integration}: {api} API answered HTTP {status}{}{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(), trace.as_deref().map(|t| format!(" (X-DocuSign-TraceToken {t})")).unwrap_or_default())]
    Status {
        integration: String,
        api: Api,
        status: u16,
        code: Option<String>,
        message: Option<String>,
        trace: Option<String>,
    },
    #[error(
        "integration {integration}: {api} API request failed after {attempts} attempts: {message}"
    )]
    Exhausted {
        integration: String,
        api: Api,
        attempts: u32,
        message: String,
    },
    #[error("integration {integration}: {api} API: {message}")]
    Malformed {
        integration: String,
        api: Api,
        message: String,
    },
    /// A 3xx answer: redirects are never followed (the token would go where the answer says),
    /// so this is permanent, not retried, and nothing of the answer's body is used. `location`
    /// is `scheme://host[:port]/path`, without its query.
    #[error("integration {integration}: {api} API answered HTTP {status}, a redirect to {location}: redirects are not followed (the token goes only to the configured endpoint); set the endpoint to the address that answers{}", trace.as_deref().map(|t| format!(" (X-DocuSign-TraceToken {t})")).unwrap_or_default())]
    Redirected {
        integration: String,
        api: Api,
        status: u16,
        location: String,
        trace: Option<String>,
    },
    /// A URL that cannot be requested (say a `base_uri` that is not a URL): permanent, not retried.
    #[error("integration {integration}: {api} API: cannot request {what}: {message}")]
    BadUrl {
        integration: String,
        api: Api,
        what: String,
        message: String,
    },
}

/// Why an answer's body could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub message: String,
    /// The body ends early (a connection cut mid-answer): worth another attempt. Any other
    /// malformed body is the same the next time, so it is not retried.
    pub cut: bool,
}

impl BodyError {
    /// A body that is complete but not what was expected.
    pub fn invalid(message: impl Into<String>) -> BodyError {
        BodyError {
            message: message.into(),
            cut: false,
        }
    }

    /// A JSON error: `what` names the expected document ("not a Monitor stream page").
    pub fn json(what: &str, e: &serde_json::Error) -> BodyError {
        BodyError {
            message: format!("{what}: {e}"),
            cut: e.is_eof(),
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Retry policy for one request: how many attempts, and the backoff between them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
        }
    }
}

/// The reqwest client for an integration's `[http]` settings, shared with every integration
/// that has the same settings.
pub fn build_http(cfg: &HttpConfig) -> Result<reqwest::Client, String> {
    shared_client(cfg)
}

/// Outcome of one attempt, before retries.
enum Attempt<T> {
    Done(T),
    Retry(String),
    Fail(ApiError),
}

/// Makes authenticated GET requests for one integration.
#[derive(Clone)]
pub struct ApiClient {
    integration: Arc<str>,
    http: reqwest::Client,
    auth: Arc<Authenticator>,
    retry: RetryPolicy,
    limiter: Arc<crate::docusign::ratelimit::RateLimiter>,
}

impl ApiClient {
    pub fn new(
        integration: &str,
        http: reqwest::Client,
        auth: Arc<Authenticator>,
        limiter: Arc<crate::docusign::ratelimit::RateLimiter>,
    ) -> Self {
        ApiClient {
            integration: integration.into(),
            http,
            auth,
            retry: RetryPolicy::default(),
            limiter,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn auth(&self) -> &Arc<Authenticator> {
        &self.auth
    }

    pub fn integration(&self) -> &str {
        &self.integration
    }

    fn bad_url(&self, api: Api, what: String, message: &str) -> ApiError {
        ApiError::BadUrl {
            integration: self.integration.to_string(),
            api,
            what,
            message: message.to_string(),
        }
    }

    /// GET `url` and parse the body with `parse`. Retries 5xx, 408, 429 (after waiting for the
    /// limit to reset), timeouts, connection errors and bodies cut short; re-grants the token
    /// once on 401. Fails at once, without retrying, on what would fail again: a URL that
    /// cannot be requested, any other 4xx, a complete body `parse` rejects. `Ok(None)` when the
    /// API answered 404 and `allow_404` is set.
    pub async fn get<T>(
        &self,
        api: Api,
        url: &str,
        allow_404: bool,
        parse: impl Fn(&Bytes) -> Result<T, BodyError>,
    ) -> Result<Option<T>, ApiError> {
        let url = match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => u,
            Ok(u) => {
                return Err(self.bad_url(api, format!("{}://…", u.scheme()), "not an http(s) URL"))
            }
            Err(e) => return Err(self.bad_url(api, "a URL".into(), &e.to_string())),
        };
        let url = url.as_str();
        let mut reauthorized = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = self
                .attempt(api, url, allow_404, &parse, &mut reauthorized)
                .await?;
            match outcome {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(message) => {
                    if attempt >= self.retry.max_attempts {
                        return Err(ApiError::Exhausted {
                            integration: self.integration.to_string(),
                            api,
                            attempts: attempt,
                            message,
                        });
                    }
                    let delay = self.retry.backoff.delay(attempt - 1);
                    ApiRetry {
                        integration: &self.integration,
                        api: api.as_str(),
                        attempt,
                        delay,
                        problem: &message,
                    }
                    .emit();
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Count a request's end: an answer with `status`, or none (0).
    fn answered(&self, api: Api, status: u16) {
        ApiResponse {
            integration: &self.integration,
            api: api.as_str(),
            status,
        }
        .emit();
    }

    async fn attempt<T>(
        &self,
        api: Api,
        url: &str,
        allow_404: bool,
        parse: &impl Fn(&Bytes) -> Result<T, BodyError>,
        reauthorized: &mut bool,
    ) -> Result<Attempt<Option<T>>, ApiError> {
        let token = self.auth.access_token().await?;
        self.limiter.acquire(api).await;
        let resp = match self.http.get(url).bearer_auth(token.expose()).send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Ok(Attempt::Fail(self.bad_url(
                    api,
                    "the URL".into(),
                    &describe_reqwest_error(&e),
                )))
            }
            Err(e) => {
                self.answered(api, 0);
                return Ok(Attempt::Retry(format!(
                    "{api} API request failed: {}",
                    describe_reqwest_error(&e)
                )));
            }
        };
        let status = resp.status().as_u16();
        self.answered(api, status);
        let headers = resp.headers().clone();
        self.limiter.observe(api, status, &headers);
        answer_date::note(&headers);
        let trace = header_str(&headers, "x-docusign-tracetoken");
        if (300..400).contains(&status) {
            // Not followed, and its body is never read: the connection goes with the answer.
            return Ok(Attempt::Fail(ApiError::Redirected {
                integration: self.integration.to_string(),
                api,
                status,
                location: describe_location(&headers, url),
                trace,
            }));
        }
        let body = match read_capped(resp, MAX_ANSWER_BYTES).await {
            Ok(b) => b,
            Err(Read::TooLarge) => {
                return Ok(Attempt::Fail(ApiError::Malformed {
                    integration: self.integration.to_string(),
                    api,
                    message: format!(
                        "the answer (HTTP {status}) is larger than {} MiB, the most one answer may hold{}; lower page_size",
                        MAX_ANSWER_BYTES >> 20,
                        trace
                            .as_deref()
                            .map(|t| format!(" (X-DocuSign-TraceToken {t})"))
                            .unwrap_or_default()
                    ),
                }))
            }
            Err(Read::Failed(e)) => {
                return Ok(Attempt::Retry(format!(
                    "{api} API answer (HTTP {status}) could not be read: {}",
                    describe_reqwest_error(&e)
                )))
            }
        };
        if (200..300).contains(&status) {
            return Ok(match parse(&body) {
                Ok(v) => Attempt::Done(Some(v)),
                Err(e) => {
                    // A JSON error may quote the body ("invalid type: string \"…\""): cut.
                    let message = format!(
                        "answer (HTTP {status}, {} bytes) is malformed: {}{}",
                        body.len(),
                        cut(&e.message, MESSAGE_CHARS),
                        trace
                            .as_deref()
                            .map(|t| format!(" (X-DocuSign-TraceToken {t})"))
                            .unwrap_or_default()
                    );
                    if e.cut {
                        Attempt::Retry(format!("{api} API {message}"))
                    } else {
                        Attempt::Fail(ApiError::Malformed {
                            integration: self.integration.to_string(),
                            api,
                            message,
                        })
                    }
                }
            });
        }
        if status == 404 && allow_404 {
            return Ok(Attempt::Done(None));
        }
        // An error body that echoes the request never gets the bearer token quoted.
        let (code, message) = error_fields(&crate::support::untrusted::without_secret(
            &body,
            token.expose(),
        ));
        let err = ApiError::Status {
            integration: self.integration.to_string(),
            api,
            status,
            code,
            message,
            trace,
        };
        match status {
            401 if !*reauthorized => {
                *reauthorized = true;
                tracing::info!(integration = %self.integration, %api, "Docusign answered 401: requesting a new OAuth grant and retrying once");
                self.auth.invalidate(&token).await?;
                Ok(Attempt::Retry(err.to_string()))
            }
            429 => {
                // The limiter now knows when the budget resets; the next attempt waits for it.
                Ok(Attempt::Retry(err.to_string()))
            }
            408 | 500..=599 => Ok(Attempt::Retry(err.to_string())),
            _ => Ok(Attempt::Fail(err)),
        }
    }
}

impl ApiClient {
    /// [`ApiClient::get`], with the answer's `Date` header (Unix seconds) when it has a readable
    /// one: Docusign's clock, against which the audit-user stream checks the host's.
    pub async fn get_with_date<T>(
        &self,
        api: Api,
        url: &str,
        allow_404: bool,
        parse: impl Fn(&Bytes) -> Result<T, BodyError>,
    ) -> Result<(Option<T>, Option<i64>), ApiError> {
        let (answer, date) = answer_date::track(self.get(api, url, allow_404, parse)).await;
        Ok((answer?, date))
    }
}

mod answer_date;

#[cfg(test)]
mod tests;
