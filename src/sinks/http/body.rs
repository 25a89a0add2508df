//! Request bodies: the records of a batch in the sink's format, cut by events and bytes, and
//! gzip.

use super::HttpSink;
use crate::config::HttpSinkFormat;
use crate::record::{Batch, Record};
use crate::sinks::SinkError;
use std::io::Write;

impl HttpSink {
    pub(super) fn content_type(&self) -> &'static str {
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

    /// One request body holding exactly `records`.
    pub(super) fn encode(&self, records: &[Record], batch: &Batch) -> Vec<u8> {
        let mut body = Vec::new();
        let array = self.format == HttpSinkFormat::JsonArray;
        if array {
            body.push(b'[');
        }
        for (i, r) in records.iter().enumerate() {
            if array && i > 0 {
                body.push(b',');
            }
            self.encode_one(&mut body, r, batch);
            if !array {
                body.push(b'\n');
            }
        }
        if array {
            body.push(b']');
        }
        body
    }

    pub(super) fn compress(&self, body: Vec<u8>) -> Result<Vec<u8>, SinkError> {
        if !self.gzip {
            return Ok(body);
        }
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        enc.write_all(&body)
            .and_then(|_| enc.finish())
            .map_err(|e| self.io_error(format!("gzip: {e}")))
    }
}
