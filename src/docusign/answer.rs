//! Reading an answer from outside: its body up to a cap, and the fields of an error body, cut
//! for messages. Shared by the API client and the OAuth calls (`auth`).

use crate::support::untrusted::{cut, cut_bytes, MESSAGE_CHARS, SHORT_CHARS};
use bytes::Bytes;

/// The most one answer may hold. A Monitor page of 2,000 events is a few MiB; anything near
/// this is not an answer the collector can use, and reading it whole would let one answer take
/// the process's memory.
pub const MAX_ANSWER_BYTES: usize = 32 << 20;

pub(crate) enum Read {
    TooLarge,
    Failed(reqwest::Error),
}

/// The body, read chunk by chunk and abandoned as soon as it passes `cap` bytes.
pub(crate) async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Bytes, Read> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(Read::TooLarge);
    }
    // Room for the whole answer when its length is announced: no copying as the buffer grows.
    let announced = resp.content_length().map_or(0, |n| n as usize);
    let mut body = bytes::BytesMut::with_capacity(announced);
    while let Some(chunk) = resp.chunk().await.map_err(Read::Failed)? {
        if body.len() + chunk.len() > cap {
            return Err(Read::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A header's value, cut for a message (a trace token is a few dozen characters).
pub(super) fn header_str(h: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| cut(s, SHORT_CHARS))
}

/// Docusign's `errorCode`/`message` (or OAuth's `error`/`error_description`) from an error body,
/// cut for messages (they reach logs, run history and `/readyz`): the code to [`SHORT_CHARS`],
/// the message — or the start of a body that is not JSON — to [`MESSAGE_CHARS`].
pub(crate) fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let (code, message) = raw_error_fields(body);
    (
        code.map(|c| cut(&c, SHORT_CHARS)),
        message.map(|m| cut(&m, MESSAGE_CHARS)),
    )
}

fn raw_error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
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
        Err(_) => (None, Some(cut_bytes(body, MESSAGE_CHARS))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn error_fields_are_cut_to_a_message() {
        let body = format!(
            r#"{{"errorCode":"{}","message":"line one\nline two {}"}}"#,
            "C".repeat(5000),
            "m".repeat(1 << 20)
        );
        let (c, m) = error_fields(body.as_bytes());
        let (c, m) = (c.unwrap(), m.unwrap());
        assert_eq!(c.chars().count(), SHORT_CHARS + 1);
        assert!(m.starts_with("line one line two mmm"), "{m:.40}");
        assert!(m.ends_with('…') && m.chars().count() == MESSAGE_CHARS + 1);
        let html = format!("<html>\r\n{}</html>", "x".repeat(1 << 20));
        let (_, m) = error_fields(html.as_bytes());
        assert!(m.unwrap().chars().count() <= MESSAGE_CHARS + 1);
    }
}
