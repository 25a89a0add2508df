//! The HTTP sink: ndjson, JSON array or Splunk HEC, optionally gzip, in batches bounded by
//! events and bytes.
//!
//! Transient failures (5xx, 408, 429, timeouts, connection errors) are retried with exponential
//! backoff and full jitter for as long as it takes: an outage holds the stream's cursor (and so
//! stops fetching) instead of losing events. A rejection (any other 4xx) is an error naming the
//! sink and the status; with `dead_letter_path` the rejected batch is appended there instead and
//! the sink moves on. The token is sent, never logged.

use super::{DeliverFuture, Sink, SinkError};
use crate::config::{HttpSinkConfig, HttpSinkFormat};
use crate::record::{Batch, Record};
use crate::support::backoff::Backoff;
use crate::support::secret::Secret;
use crate::telemetry::events::SinkRetry;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
        f.debug_struct("HttpSink")
            .field("name", &self.name)
            .field("url", &self.url)
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

impl HttpSink {
    pub fn new(cfg: &HttpSinkConfig) -> Result<HttpSink, SinkError> {
        let name = cfg
            .name
            .clone()
            .unwrap_or_else(|| format!("http:{}", cfg.url));
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

    fn content_type(&self) -> &'static str {
        match self.format {
            HttpSinkFormat::Ndjson => "application/x-ndjson",
            HttpSinkFormat::JsonArray | HttpSinkFormat::SplunkHec => "application/json",
        }
    }

    /// One record as it appears in a request body (without separators).
    fn encode_one(&self, out: &mut Vec<u8>, r: &Record, batch: &Batch) {
        match self.format {
            HttpSinkFormat::Ndjson | HttpSinkFormat::JsonArray => {
                out.extend_from_slice(r.json.as_bytes())
            }
            HttpSinkFormat::SplunkHec => {
                out.extend_from_slice(b"{\"time\":");
                out.extend_from_slice(r.time.to_string().as_bytes());
                out.extend_from_slice(b",\"host\":");
                out.extend_from_slice(
                    serde_json::to_string(&self.host)
                        .unwrap_or_default()
                        .as_bytes(),
                );
                out.extend_from_slice(b",\"source\":\"docusign\",\"sourcetype\":\"docusign:");
                out.extend_from_slice(batch.event_type.as_str().as_bytes());
                out.extend_from_slice(b"\",\"event\":");
                out.extend_from_slice(r.json.as_bytes());
                out.push(b'}');
            }
        }
    }

    /// Split `batch` into request bodies of at most `max_events` records and `max_bytes` bytes
    /// (before compression); a record larger than `max_bytes` goes alone, whole.
    pub fn bodies(&self, batch: &Batch) -> Vec<(usize, Vec<u8>)> {
        let (open, sep, close): (&[u8], &[u8], &[u8]) = match self.format {
            HttpSinkFormat::JsonArray => (b"[", b",", b"]"),
            HttpSinkFormat::Ndjson | HttpSinkFormat::SplunkHec => (b"", b"", b""),
        };
        let newline = self.format != HttpSinkFormat::JsonArray;
        let mut bodies = Vec::new();
        let mut body: Vec<u8> = open.to_vec();
        let mut count = 0usize;
        let mut one = Vec::new();
        for r in &batch.records {
            one.clear();
            self.encode_one(&mut one, r, batch);
            if newline {
                one.push(b'\n');
            }
            let extra = one.len() + if count > 0 { sep.len() } else { 0 };
            if count > 0
                && (count >= self.max_events || body.len() + extra + close.len() > self.max_bytes)
            {
                body.extend_from_slice(close);
                bodies.push((count, std::mem::replace(&mut body, open.to_vec())));
                count = 0;
            }
            if count > 0 {
                body.extend_from_slice(sep);
            }
            body.extend_from_slice(&one);
            count += 1;
        }
        if count > 0 {
            body.extend_from_slice(close);
            bodies.push((count, body));
        }
        bodies
    }

    fn compress(&self, body: Vec<u8>) -> Result<Vec<u8>, SinkError> {
        if !self.gzip {
            return Ok(body);
        }
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        enc.write_all(&body)
            .and_then(|_| enc.finish())
            .map_err(|e| SinkError::Io {
                sink: self.name.clone(),
                message: format!("gzip: {e}"),
            })
    }

    /// POST one body until the receiver accepts it. `Err` only for a rejection (4xx other than
    /// 408/429) without a dead-letter file.
    async fn post(&self, body: Vec<u8>, events: usize, raw: &[u8]) -> Result<(), SinkError> {
        let body = bytes::Bytes::from(self.compress(body)?);
        let mut attempt = 0u32;
        loop {
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
            let (problem, retry_after) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if resp.status().is_success() {
                        return Ok(());
                    }
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = resp.text().await.unwrap_or_default();
                    let text: String = text.chars().take(300).collect();
                    if !(status == 408 || status == 429 || status >= 500) {
                        return self.rejected(status, &text, events, raw);
                    }
                    (format!("HTTP {status} {}", text.trim()), retry_after)
                }
                Err(e) => (
                    crate::support::http_client::describe_reqwest_error(&e),
                    None,
                ),
            };
            let delay = retry_after
                .unwrap_or_else(|| self.backoff.delay(attempt))
                .min(Duration::from_secs(300));
            attempt += 1;
            SinkRetry {
                sink: &self.name,
                attempt,
                delay,
                problem: &problem,
            }
            .emit();
            tokio::time::sleep(delay).await;
        }
    }

    fn rejected(
        &self,
        status: u16,
        text: &str,
        events: usize,
        raw: &[u8],
    ) -> Result<(), SinkError> {
        let what = format!(
            "the receiver rejected a batch of {events} events with HTTP {status}: {}",
            text.trim()
        );
        match &self.dead_letter {
            Some(path) => {
                let write = || -> std::io::Result<()> {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                    f.write_all(raw)?;
                    f.sync_data()
                };
                write().map_err(|e| SinkError::Io {
                    sink: self.name.clone(),
                    message: format!("{what}; and writing it to dead_letter_path {} failed: {e}", path.display()),
                })?;
                tracing::error!(sink = %self.name, dead_letter = %path.display(), "{what}; written to the dead-letter file, moving on");
                Ok(())
            }
            None => Err(SinkError::Io {
                sink: self.name.clone(),
                message: format!("{what} (check the token and the receiver's configuration; the cursor stays until it is accepted)"),
            }),
        }
    }
}

impl Sink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&self, batch: Arc<Batch>) -> DeliverFuture<'_> {
        Box::pin(async move {
            let bodies = self.bodies(&batch);
            let mut offset = 0;
            for (count, body) in bodies {
                let records = &batch.records[offset..offset + count];
                offset += count;
                // The dead-letter file keeps the records as JSONL, whatever the wire format.
                let raw = if self.dead_letter.is_some() {
                    records
                        .iter()
                        .flat_map(|r| r.json.bytes().chain(std::iter::once(b'\n')))
                        .collect()
                } else {
                    Vec::new()
                };
                self.post(body, count, &raw).await?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HumanDuration, Proxy};
    use crate::record::EventType;

    fn cfg(format: HttpSinkFormat, max_events: usize, max_bytes: usize) -> HttpSinkConfig {
        HttpSinkConfig {
            name: None,
            url: "http://127.0.0.1:9/ingest".into(),
            format,
            token_file: None,
            headers: Default::default(),
            gzip: false,
            batch_max_events: max_events,
            batch_max_bytes: max_bytes,
            timeout: HumanDuration(Duration::from_secs(5)),
            proxy: Proxy::None,
            insecure: false,
            ca_file: None,
            host: Some("h1".into()),
            dead_letter_path: None,
            retry_initial: HumanDuration(Duration::from_millis(10)),
            retry_max: HumanDuration(Duration::from_millis(100)),
        }
    }

    fn batch(n: usize, size: usize) -> Batch {
        Batch {
            integration: "acme".into(),
            event_type: EventType::CustomerEvents,
            records: (0..n)
                .map(|i| Record {
                    json: format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(size)),
                    time: 1_700_000_000 + i as i64,
                })
                .collect(),
        }
    }

    #[test]
    fn batches_respect_event_and_byte_limits() {
        let sink = HttpSink::new(&cfg(HttpSinkFormat::Ndjson, 7, 1024)).unwrap();
        let b = batch(50, 50);
        let bodies = sink.bodies(&b);
        assert_eq!(bodies.iter().map(|(n, _)| n).sum::<usize>(), 50);
        for (n, body) in &bodies {
            assert!(*n <= 7);
            assert!(body.len() <= 1024, "{}", body.len());
            assert_eq!(body.iter().filter(|&&c| c == b'\n').count(), *n);
        }
        // A record larger than the byte limit goes alone, whole.
        let big = batch(3, 5000);
        let bodies = sink.bodies(&big);
        assert_eq!(bodies.len(), 3);
        assert!(bodies.iter().all(|(n, b)| *n == 1 && b.len() > 5000));
    }

    #[test]
    fn json_array_and_splunk_hec_bodies_decode() {
        let b = batch(10, 5);
        let sink = HttpSink::new(&cfg(HttpSinkFormat::JsonArray, 4, 1 << 20)).unwrap();
        for (n, body) in sink.bodies(&b) {
            let v: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
            assert_eq!(v.len(), n);
        }
        let sink = HttpSink::new(&cfg(HttpSinkFormat::SplunkHec, 100, 1 << 20)).unwrap();
        let bodies = sink.bodies(&b);
        assert_eq!(bodies.len(), 1);
        let events: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&bodies[0].1)
            .into_iter::<serde_json::Value>()
            .map(|v| v.unwrap())
            .collect();
        assert_eq!(events.len(), 10);
        assert_eq!(events[3]["time"], 1_700_000_003);
        assert_eq!(events[3]["sourcetype"], "docusign:customer_events");
        assert_eq!(events[3]["source"], "docusign");
        assert_eq!(events[3]["host"], "h1");
        assert_eq!(events[3]["event"]["i"], 3);
    }
}
