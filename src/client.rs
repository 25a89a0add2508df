//! The HTTP client for Docusign's APIs: bearer tokens (one re-grant on 401), retries with
//! exponential backoff and full jitter, rate-limit answers, and errors that name the
//! integration, the API, the status, Docusign's `errorCode` and the `X-DocuSign-TraceToken`.

use crate::auth::{AuthError, Authenticator};
use crate::config::{HttpConfig, Proxy};
use crate::metrics;
use bytes::Bytes;
use rand::Rng;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Which Docusign API a request goes to (labels, limits, messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Monitor,
    Admin,
    ESignature,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Monitor => "monitor",
            Api::Admin => "admin",
            Api::ESignature => "esignature",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// Retry policy for one request.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random delay between 0 and min(max, base * 2^attempt).
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=ms)
        })
    }
}

/// A short, secret-free description of a transport error.
pub fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off or unreadable"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    // Only the error kind and its sources: the request URL (with its cursor) is left out.
    msg
}

/// Build the reqwest client for an integration's `[http]` settings.
pub fn build_http(cfg: &HttpConfig) -> Result<reqwest::Client, String> {
    build_client(
        cfg.timeout.0,
        &cfg.proxy,
        cfg.insecure,
        cfg.ca_file.as_deref(),
    )
}

/// A reqwest client with a timeout, a proxy choice, optional extra CA certificates, and
/// (when `insecure`) no certificate verification. Shared by the API clients and the http sink.
pub fn build_client(
    timeout: Duration,
    proxy: &Proxy,
    insecure: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(15)))
        .user_agent(concat!("docusign-collector/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60));
    match proxy {
        Proxy::System => {}
        Proxy::None => b = b.no_proxy(),
        Proxy::Url(u) => {
            let p = reqwest::Proxy::all(u).map_err(|e| format!("invalid proxy {u}: {e}"))?;
            b = b.proxy(p);
        }
    }
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "ca_file {} is not a PEM certificate bundle: {e}",
                path.display()
            )
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
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
    limiter: Arc<crate::ratelimit::RateLimiter>,
}

impl ApiClient {
    pub fn new(
        integration: &str,
        http: reqwest::Client,
        auth: Arc<Authenticator>,
        limiter: Arc<crate::ratelimit::RateLimiter>,
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
                    let delay = self.retry.delay(attempt - 1);
                    tracing::warn!(integration = %self.integration, %api, attempt, delay_ms = delay.as_millis() as u64, "{message}; retrying");
                    metrics::global().retry(&self.integration, api.as_str());
                    tokio::time::sleep(delay).await;
                }
            }
        }
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
                metrics::global().api_request(&self.integration, api.as_str(), 0);
                return Ok(Attempt::Retry(format!(
                    "{api} API request failed: {}",
                    describe_reqwest_error(&e)
                )));
            }
        };
        let status = resp.status().as_u16();
        metrics::global().api_request(&self.integration, api.as_str(), status);
        let headers = resp.headers().clone();
        self.limiter.observe(api, status, &headers);
        let trace = header_str(&headers, "x-docusign-tracetoken");
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
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
                    let message = format!(
                        "answer (HTTP {status}, {} bytes) is malformed: {e}{}",
                        body.len(),
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
        let (code, message) = error_fields(&body);
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

fn header_str(h: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string())
}

/// Docusign's `errorCode`/`message` (or OAuth's `error`/`error_description`) from an error body.
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct E {
        #[serde(rename = "errorCode", alias = "error")]
        code: Option<String>,
        #[serde(alias = "error_description")]
        message: Option<String>,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(e) => (e.code, e.message),
        Err(_) if body.is_empty() => (None, None),
        Err(_) => (
            None,
            Some(
                String::from_utf8_lossy(&body[..body.len().min(200)])
                    .trim()
                    .to_string(),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        for attempt in 0..20 {
            let d = p.delay(attempt);
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(2));
            assert!(d <= cap, "attempt {attempt}: {d:?} > {cap:?}");
        }
    }

    #[test]
    fn a_cut_body_is_worth_retrying_a_wrong_one_is_not() {
        let cut =
            serde_json::from_slice::<serde_json::Value>(br#"{"endCursor":"x","da"#).unwrap_err();
        assert!(BodyError::json("page", &cut).cut);
        for wrong in [&b"<html>Bad Gateway</html>"[..], b"{}x", b"[1,]"] {
            let e = serde_json::from_slice::<serde_json::Value>(wrong).unwrap_err();
            assert!(!BodyError::json("page", &e).cut, "{e}");
        }
        assert!(!BodyError::invalid("no endCursor").cut);
    }

    #[test]
    fn error_fields_read_docusign_and_oauth_bodies() {
        let (c, m) = error_fields(
            br#"{"errorCode":"HOURLY_APIINVOCATION_LIMIT_EXCEEDED","message":"The maximum"}"#,
        );
        assert_eq!(c.as_deref(), Some("HOURLY_APIINVOCATION_LIMIT_EXCEEDED"));
        assert_eq!(m.as_deref(), Some("The maximum"));
        let (c, _) = error_fields(br#"{"error":"consent_required"}"#);
        assert_eq!(c.as_deref(), Some("consent_required"));
        let (c, m) = error_fields(b"<html>Bad Gateway</html>");
        assert!(c.is_none());
        assert!(m.unwrap().contains("Bad Gateway"));
    }

    #[test]
    fn status_error_names_everything_an_operator_needs() {
        let e = ApiError::Status {
            integration: "acme".into(),
            api: Api::Monitor,
            status: 400,
            code: Some("INVALID_REQUEST_PARAMETER".into()),
            message: Some("bad cursor".into()),
            trace: Some("trace-123".into()),
        };
        let s = e.to_string();
        for part in [
            "acme",
            "monitor",
            "400",
            "INVALID_REQUEST_PARAMETER",
            "bad cursor",
            "trace-123",
        ] {
            assert!(s.contains(part), "{s} lacks {part}");
        }
    }
}
