//! A string that never shows itself in `Debug`/`Display` output.

use std::fmt;

/// Wraps a private key, an access token or a sink token. `Debug` and `Display` print
/// `[redacted]`; the value is reached only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Call sites are the only places a secret leaves this wrapper:
    /// an HTTP header, a JWT signature, the state database.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// `text` with anything that looks like key material replaced by `[redacted]`: every run of 48
/// or more base64 characters that mixes capitals, small letters and digits (a PEM body line is
/// 64 of them; a name, a GUID, a URL or a path is not). A last defence for messages that quote a
/// value (serde's "invalid type: string …" when a key is pasted into a key of another type):
/// the messages themselves are written never to quote keys.
pub fn redact_key_material(text: &str) -> std::borrow::Cow<'_, str> {
    let b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    let looks_like_key = |run: &str| {
        run.len() >= 48
            && run.bytes().any(|b| b.is_ascii_uppercase())
            && run.bytes().any(|b| b.is_ascii_lowercase())
            && run.bytes().any(|b| b.is_ascii_digit())
    };
    if !text.split(|c| !b64(c)).any(looks_like_key) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut run_start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (b64(c) && i < text.len(), run_start) {
            (true, None) => run_start = Some(i),
            (true, Some(_)) => {}
            (false, start) => {
                if let Some(s) = start {
                    let run = &text[s..i];
                    out.push_str(if looks_like_key(run) {
                        "[redacted]"
                    } else {
                        run
                    });
                    run_start = None;
                }
                if i < text.len() {
                    out.push(c);
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_material_is_redacted_and_plain_text_kept() {
        let line = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun";
        let pem = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{line}\n{line}\n-----END RSA PRIVATE KEY-----"
        );
        for text in [
            format!("invalid type: string {pem:?}, expected a boolean"),
            format!("unknown variant `{}`", pem.replace('\n', " ")),
            format!("value {line} is wrong"),
            format!("cut {}", &pem[..100]),
        ] {
            let r = redact_key_material(&text);
            assert!(!r.contains(&line[..20]), "{r}");
            assert!(r.contains("[redacted]"), "{r}");
        }
        for plain in [
            "integrations[0].environment: unknown variant `prod`, expected `developer` (11111111-test-4000-8000-000000000001)",
            "expected text starting with \"-----BEGIN RSA PRIVATE KEY-----\"",
            &format!("invalid name {:?}", "a".repeat(65)),
            "GET https://api-d.docusign.net/management/v2/organizations/0f3e6a1c/users?take=250",
        ] {
            assert_eq!(redact_key_material(plain), plain);
        }
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-token");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2-token");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Secret,
        }
        let h = format!("{:?}", Holder { token: s });
        assert!(!h.contains("hunter2"), "{h}");
    }
}
