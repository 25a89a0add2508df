//! The HTTP sink: ndjson, JSON array or Splunk HEC, optionally gzip, in batches bounded by
//! events and bytes.
//!
//! Every answer is handled by its meaning ([`answer::meaning`]; the table is in README.md, "HTTP
//! sink"): an outage (5xx, 408, 429, timeouts, connection errors) is retried with exponential
//! backoff and full jitter for as long as it takes, holding the stream's cursor (and so its
//! fetching) instead of losing events. A redirect is never followed (the client's policy) and
//! never an acceptance; it and a refusal that says the configuration is wrong (401, 403, 404, …)
//! are retried a few times, then the delivery fails with the cursor held: never dead-lettered,
//! since every other batch would be refused the same way. A 413 splits the body in halves until
//! it fits. Only records refused for what they are (400, 422, … or one record too large on its
//! own) go to `dead_letter_path`, or fail the delivery without one. The token is sent, never
//! logged, and never quoted from an answer.

mod answer;
mod body;
#[cfg(test)]
mod tests;

use super::{DeliverFuture, Sink, SinkError};
use crate::config::{HttpSinkConfig, HttpSinkFormat};
use crate::record::{Batch, Record};
use crate::support::backoff::Backoff;
use crate::support::secret::Secret;
use crate::telemetry::events::{SinkBatchSplit, SinkDeadLettered, SinkRefusalRetry, SinkRetry};
use answer::{Meaning, REFUSAL_ATTEMPTS};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::VecDeque;
use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub struct HttpSink {
    name: String,
    url: String,
    format: HttpSinkFormat,
    token: Option<Secret>,
    headers: HeaderMap,
    gzip: bool,
    max_events: usize,
    max_bytes: usize,
    host: String,
    dead_letter: Option<PathBuf>,
    client: reqwest::Client,
    /// Backoff between attempts.
    backoff: Backoff,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The name, never the URL: its user info or query may hold credentials.
        f.debug_struct("HttpSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "docusign-collector".into())
}

/// What one body's posting came to, short of a failed delivery.
enum Posted {
    Accepted,
    /// 413: the body must be split (or, one record alone, set aside).
    TooLarge(String),
    /// Refused for what the records are: the dead-letter file's, or a failed delivery.
    Rejected(String),
}

/// One answer (or its absence), as the retry loop needs it.
struct Attempt {
    meaning: Meaning,
    /// What happened, for logs and errors: bounded, secret-free, naming no URL query.
    problem: String,
    retry_after: Option<Duration>,
}

impl HttpSink {
    /// The sink `name` (its effective name, `SinkConfig::effective_name`) for `cfg`.
    pub fn new(name: String, cfg: &HttpSinkConfig) -> Result<HttpSink, SinkError> {
        let err = |message: String| SinkError::Config {
            sink: name.clone(),
            message,
        };
        let token = match &cfg.token_file {
            Some(p) => Some(Secret::new(
                crate::support::credentials::read_token(p)
                    .map_err(|e| err(format!("token_file: {e}")))?,
            )),
            None => None,
        };
        let mut headers = HeaderMap::new();
        for (k, v) in &cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| err(format!("invalid header name {k:?}")))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| err(format!("invalid value for header {k:?}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if cfg.insecure {
            tracing::warn!(sink = %name, "insecure = true: the SIEM's TLS certificate is NOT verified");
        }
        // Never follows a redirect (see `build_client`): a 3xx comes back here as an answer.
        let client = crate::support::http_client::build_client(
            cfg.timeout.0,
            &cfg.proxy,
            cfg.insecure,
            cfg.ca_file.as_deref(),
        )
        .map_err(err)?;
        Ok(HttpSink {
            name: name.clone(),
            url: cfg.url.clone(),
            format: cfg.format,
            token,
            headers,
            gzip: cfg.gzip,
            max_events: cfg.batch_max_events.max(1),
            max_bytes: cfg.batch_max_bytes.max(1),
            host: cfg.host.clone().unwrap_or_else(local_host_name),
            dead_letter: cfg.dead_letter_path.clone(),
            client,
            backoff: Backoff::new(cfg.retry_initial.0, cfg.retry_max.0),
        })
    }

    fn io_error(&self, message: String) -> SinkError {
        SinkError::Io {
            sink: self.name.clone(),
            message,
        }
    }

    /// One POST of `body`, and what its answer means.
    async fn attempt(&self, body: &bytes::Bytes) -> Result<Attempt, SinkError> {
        let mut req = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header("content-type", self.content_type())
            .body(body.clone());
        if self.gzip {
            req = req.header("content-encoding", "gzip");
        }
        if let Some(t) = &self.token {
            let scheme = if self.format == HttpSinkFormat::SplunkHec {
                "Splunk"
            } else {
                "Bearer"
            };
            let mut v =
                HeaderValue::from_str(&format!("{scheme} {}", t.expose())).map_err(|_| {
                    SinkError::Config {
                        sink: self.name.clone(),
                        message: "the token contains characters not allowed in a header".into(),
                    }
                })?;
            v.set_sensitive(true);
            req = req.header("authorization", v);
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => {
                return Ok(Attempt {
                    meaning: Meaning::Outage,
                    problem: crate::support::http_client::describe_reqwest_error(&e),
                    retry_after: None,
                })
            }
        };
        let status = resp.status().as_u16();
        let meaning = answer::meaning(status);
        if meaning == Meaning::Accepted {
            return Ok(Attempt {
                meaning,
                problem: String::new(),
                retry_after: None,
            });
        }
        let mut problem = format!("HTTP {status}");
        if meaning == Meaning::Redirect {
            let location = resp.headers().get("location").map(|v| v.as_bytes());
            problem = format!(
                "{problem} to {} (redirects are not followed: point url at the receiver itself)",
                answer::describe_location(location, &self.url)
            );
        }
        let mut retry_after = None;
        if meaning == Meaning::Outage {
            let header = resp
                .headers()
                .get("retry-after")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            if let Some((wait, clamped)) =
                header.and_then(|h| answer::retry_after(&h, SystemTime::now()))
            {
                if clamped {
                    problem.push_str(&format!(
                        " (its Retry-After asked for more than {} s: waiting {} s)",
                        answer::RETRY_AFTER_MAX.as_secs(),
                        wait.as_secs()
                    ));
                }
                retry_after = Some(wait);
            }
        }
        let (text, cut) = answer::read_bounded(resp).await;
        let text = answer::excerpt(&text, cut, self.token.as_ref().map(|t| t.expose()));
        if !text.is_empty() {
            problem = format!("{problem}: {text}");
        }
        Ok(Attempt {
            meaning,
            problem,
            retry_after,
        })
    }

    /// POST one body until its answer settles it: accepted, too large, or refused for its
    /// records. An outage is retried for as long as it takes; a redirect or a refusal of the
    /// configuration [`REFUSAL_ATTEMPTS`] times, then it is a failed delivery.
    async fn post(&self, body: Vec<u8>, events: usize) -> Result<Posted, SinkError> {
        let body = bytes::Bytes::from(self.compress(body)?);
        let mut attempt = 0u32;
        let mut refusals = 0u32;
        loop {
            let a = self.attempt(&body).await?;
            let delay = match a.meaning {
                Meaning::Accepted => return Ok(Posted::Accepted),
                Meaning::TooLarge => return Ok(Posted::TooLarge(a.problem)),
                Meaning::Data => return Ok(Posted::Rejected(a.problem)),
                Meaning::Outage => {
                    // Retry-After is the least wait the receiver asks for: never shorter (a
                    // `Retry-After: 0` must not make a busy loop), never past the clamp.
                    let delay = self
                        .backoff
                        .delay(attempt)
                        .max(a.retry_after.unwrap_or_default())
                        .min(answer::RETRY_AFTER_MAX);
                    SinkRetry {
                        sink: &self.name,
                        attempt: attempt.saturating_add(1),
                        delay,
                        problem: &a.problem,
                    }
                    .emit();
                    delay
                }
                Meaning::Redirect | Meaning::Configuration => {
                    refusals += 1;
                    if refusals >= REFUSAL_ATTEMPTS {
                        let hint = if a.meaning == Meaning::Redirect {
                            "the receiver redirects instead of accepting (a login page or a moved endpoint?)"
                        } else {
                            "check the sink's url, token and the receiver's configuration"
                        };
                        return Err(self.io_error(format!(
                            "a batch of {events} events was refused {refusals} times, last with {}; {hint}; nothing was dead-lettered and the cursor stays until the receiver accepts",
                            a.problem
                        )));
                    }
                    let delay = self.backoff.delay(attempt);
                    SinkRefusalRetry {
                        sink: &self.name,
                        attempt: refusals,
                        of: REFUSAL_ATTEMPTS,
                        delay,
                        problem: &a.problem,
                    }
                    .emit();
                    delay
                }
            };
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(delay).await;
        }
    }

    /// Append `records` to the dead-letter file as JSONL (whatever the wire format), fsynced.
    fn dead_letter(&self, path: &std::path::Path, records: &[Record]) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut raw = Vec::new();
        for r in records {
            raw.extend_from_slice(r.json.as_bytes());
            raw.push(b'\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(&raw)?;
        f.sync_data()
    }

    /// Records the receiver refused for what they are (`what` says how): to the dead-letter
    /// file when there is one, else a failed delivery.
    fn set_aside(&self, records: &[Record], what: String, without: &str) -> Result<(), SinkError> {
        match &self.dead_letter {
            Some(path) => {
                self.dead_letter(path, records).map_err(|e| {
                    self.io_error(format!(
                        "{what}; and writing it to dead_letter_path {} failed: {e}",
                        path.display()
                    ))
                })?;
                SinkDeadLettered {
                    sink: &self.name,
                    records: records.len(),
                    path,
                    what: &what,
                }
                .emit();
                Ok(())
            }
            None => Err(self.io_error(format!(
                "{what} ({without}; the cursor stays until it is accepted)"
            ))),
        }
    }
}

impl Sink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&self, batch: Arc<Batch>) -> DeliverFuture<'_> {
        Box::pin(async move {
            // The bodies by the configured limits; a body refused with 413 comes back as its two
            // halves, in order, until it fits or holds a single record.
            let mut queue: VecDeque<(Range<usize>, Option<Vec<u8>>)> = VecDeque::new();
            let mut offset = 0;
            for (count, body) in self.bodies(&batch) {
                queue.push_back((offset..offset + count, Some(body)));
                offset += count;
            }
            let total = batch.records.len();
            while let Some((range, body)) = queue.pop_front() {
                let records = &batch.records[range.clone()];
                let body = body.unwrap_or_else(|| self.encode(records, &batch));
                let size = body.len();
                match self.post(body, records.len()).await? {
                    Posted::Accepted => {}
                    Posted::TooLarge(problem) if records.len() > 1 => {
                        let mid = range.start + records.len() / 2;
                        SinkBatchSplit {
                            sink: &self.name,
                            events: records.len(),
                            bytes: size,
                            problem: &problem,
                        }
                        .emit();
                        queue.push_front((mid..range.end, None));
                        queue.push_front((range.start..mid, None));
                    }
                    Posted::TooLarge(problem) if size < answer::SMALLEST_TOO_LARGE => {
                        // No record is too large at this size: the receiver's limit is wrong,
                        // and dead-lettering would empty the backlog into the file.
                        return Err(self.io_error(format!(
                            "the receiver refused a body of {size} bytes (one record) as too large, with {problem}; its body size limit is misconfigured; nothing was dead-lettered and the cursor stays until the receiver accepts"
                        )));
                    }
                    Posted::TooLarge(problem) => {
                        let id = answer::record_id(&records[0].json, range.start, total);
                        self.set_aside(
                            records,
                            format!("the receiver refused a record of {size} bytes, alone too large for it ({id}) with {problem}"),
                            "raise the receiver's size limit, or set dead_letter_path to set such records aside",
                        )?;
                    }
                    Posted::Rejected(problem) => self.set_aside(
                        records,
                        format!(
                            "the receiver rejected a batch of {} events with {problem}",
                            records.len()
                        ),
                        "check the records and the receiver's configuration",
                    )?,
                }
            }
            Ok(())
        })
    }
}
