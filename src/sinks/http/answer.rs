//! What an HTTP answer means for the body that was posted ("refusal by meaning"), and the bounded,
//! secret-free pieces of an answer that go into messages: the error body, the `Location`, the
//! `Retry-After`.

use std::time::{Duration, SystemTime};

/// The most of an error body that is read: enough for any receiver's message; the rest is
/// abandoned (the connection is dropped), so a hostile answer cannot take the memory.
pub const ERROR_BODY_MAX: usize = 4 * 1024;
/// The most of an error body a message quotes, in characters.
pub const EXCERPT_CHARS: usize = 300;
/// The longest wait a `Retry-After` may ask for; a longer one is clamped (and said so).
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);
/// A body this small refused with 413 says the receiver's limit is wrong, not the record (it is
/// the least `batch_max_bytes` allowed): the delivery fails instead of the record being set aside.
pub const SMALLEST_TOO_LARGE: usize = 1024;
/// How many times a redirect or a configuration-shaped refusal is tried before the delivery fails.
pub const REFUSAL_ATTEMPTS: u32 = 5;

/// The meaning of a status, and so what the sink does with the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// 2xx: the receiver has the records.
    Accepted,
    /// 408, 429, 5xx (and transport errors): an outage; retried until accepted.
    Outage,
    /// 3xx: the receiver wants the records elsewhere (an SSO proxy, a moved endpoint). Never
    /// followed and never an acceptance: retried [`REFUSAL_ATTEMPTS`] times, then the delivery fails.
    Redirect,
    /// The sink's configuration is wrong (token, URL, proxy, format): the same records would be
    /// refused again, and so would every other batch. Retried [`REFUSAL_ATTEMPTS`] times, then
    /// the delivery fails with the cursor held; never dead-lettered.
    Configuration,
    /// 413: the body is too large; it is split in halves until it fits.
    TooLarge,
    /// Other 4xx: these records are refused; the dead-letter file takes them, else the delivery fails.
    Data,
}

/// The meaning of `status` (see README.md, "HTTP sink", for the table).
pub fn meaning(status: u16) -> Meaning {
    match status {
        200..=299 => Meaning::Accepted,
        300..=399 => Meaning::Redirect,
        408 | 429 | 500..=599 => Meaning::Outage,
        413 => Meaning::TooLarge,
        // 401 Unauthorized, 403 Forbidden (a token expired or revoked), 404 Not Found, 405 Method
        // Not Allowed, 410 Gone (a wrong or retired URL), 407 Proxy Authentication Required,
        // 411 Length Required (a proxy's demand), 415 Unsupported Media Type (the wrong
        // `format`), 421 Misdirected Request, 426 Upgrade Required (http:// for https://).
        401 | 403 | 404 | 405 | 407 | 410 | 411 | 415 | 421 | 426 => Meaning::Configuration,
        400..=499 => Meaning::Data,
        // 1xx as a final answer, or a status no HTTP version defines: not an acceptance, and
        // nothing says the records are at fault.
        _ => Meaning::Configuration,
    }
}

/// A quotable excerpt of an error body: UTF-8 (lossy), control characters as spaces, runs of
/// white space as one, at most [`EXCERPT_CHARS`] characters, "…" where it was cut (`cut`: the
/// body was longer than what was read). `secret` (the sink's token) is never quoted: a receiver
/// that echoes the request's headers gets it replaced.
pub fn excerpt(body: &[u8], cut: bool, secret: Option<&str>) -> String {
    let secret = secret.filter(|s| !s.is_empty());
    let body = match secret {
        Some(s) => crate::support::untrusted::without_secret(body, s),
        None => std::borrow::Cow::Borrowed(body),
    };
    let mut text = String::from_utf8_lossy(&body).into_owned();
    if let Some(s) = secret {
        // A body cut inside the secret ends with its start: that part goes too.
        if cut {
            if let Some(k) = (1..s.len())
                .rev()
                .find(|&k| s.is_char_boundary(k) && text.ends_with(&s[..k]))
            {
                text.truncate(text.len() - k);
            }
        }
    }
    let mut out = String::new();
    let mut chars = 0;
    let mut more = cut;
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if chars >= EXCERPT_CHARS {
            more = true;
            break;
        }
        if chars > 0 {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= EXCERPT_CHARS {
                more = true;
                break;
            }
            out.push(c);
            chars += 1;
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    if more && !out.is_empty() {
        out.push('…');
    }
    out
}

/// Read at most [`ERROR_BODY_MAX`] bytes of an answer's body, chunk by chunk; the rest is
/// abandoned. Returns the bytes and whether there was more (or the read failed part-way).
pub async fn read_bounded(mut resp: reqwest::Response) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = ERROR_BODY_MAX - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return (body, true);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return (body, false),
            Err(_) => return (body, true),
        }
    }
}

/// Where a redirect points, for a message: `scheme://host[:port]/path` resolved against the
/// request's URL, without user info, query or fragment (they may carry tokens), the path cut at
/// 100 characters.
pub fn describe_location(location: Option<&[u8]>, request_url: &str) -> String {
    let Some(raw) = location else {
        return "no Location".into();
    };
    let raw = String::from_utf8_lossy(&raw[..raw.len().min(2048)]).into_owned();
    let resolved = url::Url::parse(request_url).and_then(|base| base.join(raw.trim()));
    match resolved {
        Ok(u) if u.has_host() => {
            let host = u.host_str().unwrap_or_default();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = excerpt(u.path().as_bytes(), false, None);
            let path: String = path.chars().take(100).collect();
            let more = if u.path().chars().count() > 100 {
                "…"
            } else {
                ""
            };
            format!("Location {}://{host}{port}{path}{more}", u.scheme())
        }
        _ => "a Location that is not a URL".into(),
    }
}

/// A `Retry-After` value (delay-seconds or an HTTP date) as a wait, clamped to
/// [`RETRY_AFTER_MAX`]; `None` when it is neither. The flag says it was clamped. Never panics,
/// whatever the number.
pub fn retry_after(value: &str, now: SystemTime) -> Option<(Duration, bool)> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is a very long wait, not an unreadable one.
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        let wait = Duration::from_secs(secs);
        return Some((wait.min(RETRY_AFTER_MAX), wait > RETRY_AFTER_MAX));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = date.timestamp();
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let secs = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
    let wait = Duration::from_secs(secs);
    Some((wait.min(RETRY_AFTER_MAX), wait > RETRY_AFTER_MAX))
}

/// What identifies a record in a message: its `eventId` (customer events), else its `id` (audit
/// users), read from its JSON without keeping the rest; else its position in its page.
pub fn record_id(json: &str, position: usize, of: usize) -> String {
    #[derive(serde::Deserialize)]
    struct Ids {
        #[serde(rename = "eventId")]
        event_id: Option<serde_json::Value>,
        id: Option<serde_json::Value>,
    }
    // Only an object has fields (serde would read a sequence's elements as the fields, in order).
    let object = json.trim_start().starts_with('{');
    let ids = object
        .then(|| serde_json::from_str::<Ids>(json).ok())
        .flatten();
    let id = ids.and_then(|i| {
        [i.event_id, i.id]
            .into_iter()
            .flatten()
            .find_map(|v| match v {
                serde_json::Value::String(s) if !s.is_empty() => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    });
    match id {
        Some(id) => format!("id {}", excerpt(id.as_bytes(), false, None)),
        None => format!(
            "record {} of {of} in its page (it has no eventId or id)",
            position + 1
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_meaning() {
        use Meaning::*;
        for (status, m) in [
            (200, Accepted),
            (204, Accepted),
            (301, Redirect),
            (302, Redirect),
            (307, Redirect),
            (308, Redirect),
            (304, Redirect),
            (408, Outage),
            (429, Outage),
            (500, Outage),
            (503, Outage),
            (599, Outage),
            (413, TooLarge),
            (401, Configuration),
            (403, Configuration),
            (404, Configuration),
            (405, Configuration),
            (407, Configuration),
            (410, Configuration),
            (415, Configuration),
            (400, Data),
            (409, Data),
            (422, Data),
            (100, Configuration),
            (999, Configuration),
        ] {
            assert_eq!(meaning(status), m, "{status}");
        }
    }

    #[test]
    fn excerpts_are_bounded_clean_and_never_quote_the_token() {
        assert_eq!(
            excerpt(b"  bad\r\n\tindex \x1b[31m x ", false, None),
            "bad index [31m x"
        );
        assert_eq!(excerpt(b"short", true, None), "short…");
        assert_eq!(excerpt(b"", true, None), "");
        let long = "é".repeat(1000);
        let e = excerpt(long.as_bytes(), false, None);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(
            excerpt(
                b"invalid token Splunk s3cr3t-t0k",
                false,
                Some("s3cr3t-t0k")
            ),
            "invalid token Splunk [redacted]"
        );
        assert_eq!(
            excerpt(&[0xff, 0xfe, b'a'], false, None),
            "\u{fffd}\u{fffd}a"
        );
        // Cut inside the token, after enough white space to bring it into the excerpt.
        let body = format!("{}Splunk s3cr3t", " ".repeat(ERROR_BODY_MAX));
        assert_eq!(
            excerpt(body.as_bytes(), true, Some("s3cr3t-t0k")),
            "Splunk…"
        );
    }

    #[test]
    fn locations_name_scheme_host_and_path_only() {
        let base = "https://siem.example.com:8088/services/collector";
        assert_eq!(
            describe_location(Some(b"/login?next=%2Fin&token=abc"), base),
            "Location https://siem.example.com:8088/login"
        );
        assert_eq!(
            describe_location(
                Some(b"https://user:pw@sso.example.net/saml/start?SAMLRequest=x#f"),
                base
            ),
            "Location https://sso.example.net/saml/start"
        );
        let long = format!("/{}", "a".repeat(500));
        let d = describe_location(Some(long.as_bytes()), base);
        assert!(d.ends_with('…') && d.len() < 160, "{d}");
        assert_eq!(describe_location(None, base), "no Location");
        assert_eq!(
            describe_location(Some(b"http://[::1"), base),
            "a Location that is not a URL"
        );
        let huge = vec![b'x'; 1 << 20];
        assert!(describe_location(Some(&huge), base).len() < 200);
    }

    #[test]
    fn retry_after_is_clamped_and_never_panics() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after("7", now), Some((Duration::from_secs(7), false)));
        assert_eq!(retry_after(" 300 ", now), Some((RETRY_AFTER_MAX, false)));
        assert_eq!(
            retry_after("18446744073709551615", now),
            Some((RETRY_AFTER_MAX, true))
        );
        assert_eq!(
            retry_after(&"9".repeat(400), now),
            Some((RETRY_AFTER_MAX, true))
        );
        assert_eq!(retry_after("-1", now), None);
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("", now), None);
        // 1_700_000_030 is Tue, 14 Nov 2023 22:13:50 GMT.
        assert_eq!(
            retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now),
            Some((Duration::from_secs(30), false))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some((Duration::ZERO, false))
        );
        assert_eq!(
            retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some((RETRY_AFTER_MAX, true))
        );
    }

    #[test]
    fn records_are_named_by_their_id() {
        assert_eq!(record_id(r#"{"eventId":"e-1","id":"x"}"#, 0, 1), "id e-1");
        assert_eq!(record_id(r#"{"id":"u-9","pad":[1,2]}"#, 0, 1), "id u-9");
        assert_eq!(record_id(r#"{"id":34}"#, 0, 1), "id 34");
        assert_eq!(
            record_id(r#"{"eventId":null}"#, 2, 5),
            "record 3 of 5 in its page (it has no eventId or id)"
        );
        assert_eq!(
            record_id("[1,2]", 0, 1),
            "record 1 of 1 in its page (it has no eventId or id)"
        );
        let bad = format!(r#"{{"eventId":"{}\u0007"}}"#, "z".repeat(1000));
        assert!(record_id(&bad, 0, 1).chars().count() <= EXCERPT_CHARS + 4);
    }
}
