//! Text and URLs that come from outside (an answer's body, a `Location` header, an id an API
//! hands back), made safe to put in a message or a request.
//!
//! - [`cut`]: outside text as a message may carry it — bounded, one line, no control characters.
//!   Messages go to logs, run history, `state`, the API and `/readyz`: a 1 MiB error body must not.
//! - [`describe_location`]: where a 3xx answer pointed, as `scheme://host[:port]/path` — never
//!   its query (a cursor or a token may ride there), never user information.
//! - [`path_url`]: ids put into a URL path, each percent-encoded into one segment, so an id holding
//!   `/`, `?`, `#` or `%` cannot reach another resource.

/// The most characters of an outside text a message carries (Docusign's `message`, a body's start).
pub const MESSAGE_CHARS: usize = 300;
/// The most characters of a short outside value (an `errorCode`, a trace token, a host).
pub const SHORT_CHARS: usize = 100;

/// `text` cut to at most `max` characters (then ending in "…"), with control characters and
/// bidirectional overrides shown as spaces, runs of white space folded into one, trimmed.
pub fn cut(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)));
    let mut chars = 0usize;
    let mut space = false;
    for c in text.trim().chars() {
        let c = if c.is_control() || c.is_whitespace() || is_bidi_control(c) {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if chars == max {
            let kept = out.trim_end().len();
            out.truncate(kept);
            out.push('…');
            return out;
        }
        out.push(c);
        chars += 1;
    }
    out.trim_end().to_string()
}

/// Characters that reorder what a terminal or a log viewer shows (U+202A–U+202E, U+2066–U+2069).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A message's view of `bytes` (a body that is not the expected JSON): its start, as text.
pub fn cut_bytes(bytes: &[u8], max: usize) -> String {
    // Four bytes a character at most: enough to fill `max` characters.
    let head = &bytes[..bytes.len().min(max.saturating_mul(4))];
    cut(&String::from_utf8_lossy(head), max)
}

/// `body` with every occurrence of `secret` replaced by `[redacted]`, before any of it is quoted:
/// a server that echoes the request (the bearer token, the signed assertion) into an error body
/// never gets the credential into a log line, the run history or `/readyz`.
pub fn without_secret<'a>(body: &'a [u8], secret: &str) -> std::borrow::Cow<'a, [u8]> {
    let secret = secret.as_bytes();
    if secret.is_empty() || memchr::memmem::find(body, secret).is_none() {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = memchr::memmem::find(rest, secret) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"[redacted]");
        rest = &rest[at + secret.len()..];
    }
    out.extend_from_slice(rest);
    std::borrow::Cow::Owned(out)
}

/// Where a 3xx answer to a request for `from` points, for a message: the `Location` resolved
/// against `from`, shown as `scheme://host[:port]/path` (no user information, query or fragment),
/// cut to [`MESSAGE_CHARS`]; "no Location" when there is none, "an unreadable Location" when it
/// is not a URL.
pub fn describe_location(headers: &reqwest::header::HeaderMap, from: &str) -> String {
    let Some(value) = headers.get(reqwest::header::LOCATION) else {
        return "no Location".into();
    };
    let Ok(value) = value.to_str() else {
        return "an unreadable Location".into();
    };
    let resolved = match url::Url::parse(from) {
        Ok(base) => base.join(value),
        Err(_) => url::Url::parse(value),
    };
    match resolved {
        Ok(u) if u.has_host() => cut(
            &format!(
                "{}://{}{}",
                u.scheme(),
                authority(&u).unwrap_or_default(),
                u.path()
            ),
            MESSAGE_CHARS,
        ),
        _ => "an unreadable Location".into(),
    }
}

/// `host[:port]` of `u` (the port only when it is not the scheme's default).
pub fn authority(u: &url::Url) -> Option<String> {
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// `base` with `segments` appended to its path, each percent-encoded into one segment (a `/`,
/// `?`, `#` or `%` stays inside it). An empty segment and `.`/`..` (which URL parsing would
/// resolve, reaching another resource) are refused, as is a base that is not a URL.
pub fn path_url(base: &str, segments: &[&str]) -> Result<url::Url, String> {
    let mut url = url::Url::parse(base).map_err(|e| format!("{}: {e}", cut(base, SHORT_CHARS)))?;
    if let Some(bad) = segments
        .iter()
        .find(|s| s.is_empty() || **s == "." || **s == "..")
    {
        return Err(format!("{bad:?} cannot be a path segment"));
    }
    url.path_segments_mut()
        .map_err(|_| format!("{} cannot take a path", cut(base, SHORT_CHARS)))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echoed_secret_is_replaced_before_anything_is_quoted() {
        let body = br#"{"error":"bad","error_description":"got Bearer s3cr3t and s3cr3t"}"#;
        let clean = without_secret(body, "s3cr3t");
        assert!(!String::from_utf8_lossy(&clean).contains("s3cr3t"));
        assert_eq!(
            String::from_utf8_lossy(&clean)
                .matches("[redacted]")
                .count(),
            2
        );
        assert!(matches!(
            without_secret(body, "absent"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            without_secret(body, ""),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn cut_bounds_folds_and_marks() {
        assert_eq!(cut("  short  ", 10), "short");
        assert_eq!(cut("abcdefghij", 10), "abcdefghij");
        assert_eq!(cut("abcdefghijk", 10), "abcdefghij…");
        assert_eq!(cut("a\r\n\tb\u{1b}[31mc\u{202e}d", 20), "a b [31mc d");
        let huge = "é".repeat(1 << 20);
        let c = cut(&huge, MESSAGE_CHARS);
        assert_eq!(c.chars().count(), MESSAGE_CHARS + 1);
        assert!(c.ends_with('…'));
        assert_eq!(cut_bytes(&[0xff; 1 << 20], 5), "\u{fffd}".repeat(5) + "…");
        assert_eq!(cut_bytes(b"<html>\n</html>", 100), "<html> </html>");
    }

    #[test]
    fn a_location_shows_scheme_host_and_path_only() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(describe_location(&h, "https://a.example"), "no Location");
        h.insert(
            "location",
            "https://user:pw@evil.example:8443/x/y?cursor=secret#f"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            describe_location(&h, "https://a.example/p"),
            "https://evil.example:8443/x/y"
        );
        h.insert("location", "/login?next=abc".parse().unwrap());
        assert_eq!(
            describe_location(&h, "http://127.0.0.1:9/api?cursor=c"),
            "http://127.0.0.1:9/login"
        );
        h.insert(
            "location",
            format!("/{}", "p".repeat(5000)).parse().unwrap(),
        );
        assert!(describe_location(&h, "https://a.example").chars().count() <= MESSAGE_CHARS + 1);
    }

    #[test]
    fn ids_stay_inside_their_segment() {
        let u = path_url(
            "https://demo.docusign.net/",
            &["restapi", "accounts", "a/b?c#d%e f", "users"],
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://demo.docusign.net/restapi/accounts/a%2Fb%3Fc%23d%25e%20f/users"
        );
        let u = path_url("http://127.0.0.1:8/management", &["v2", "x"]).unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8/management/v2/x");
        for bad in ["", ".", ".."] {
            assert!(
                path_url("https://a.example", &["users", bad]).is_err(),
                "{bad:?}"
            );
        }
        assert!(path_url("mailto:x@y", &["a"]).is_err());
        assert!(path_url("not a url", &["a"]).is_err());
    }
}
