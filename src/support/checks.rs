//! Checks of configured values that more than one layer makes (the sinks, the client settings,
//! `config`'s own rules), each failure an [`Invalid`]: the key it is about, relative to the table
//! being checked, and a message that says what to write instead.
//!
//! The caller that knows where the table sits puts the prefix in front ([`Invalid::under`]):
//! a sink's `token_file` becomes `sinks[1].token_file`, a client's `timeout`
//! `integrations[0].http.timeout`; `config` then adds the file.

use super::duration::HumanDuration;
use std::path::Path;

/// One failed rule: its key (relative) and what is wrong, without the value when it may be
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    pub message: String,
}

/// The result of a check.
pub type Checked = Result<(), Invalid>;

impl Invalid {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The same failure with its key under `prefix` (`timeout` under `sinks[1]`: `sinks[1].timeout`).
    pub fn under(self, prefix: &str) -> Invalid {
        let key = match (prefix.is_empty(), self.key.is_empty()) {
            (true, _) => self.key,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{}", self.key),
        };
        Invalid { key, ..self }
    }
}

/// A fail of `key` with `message`, as a [`Checked`].
pub fn fail(key: impl Into<String>, message: impl Into<String>) -> Checked {
    Err(Invalid::new(key, message))
}

/// At least one second (a timeout or interval written as "0s" or "500ms" is a typo).
pub fn at_least_1s(key: &str, d: HumanDuration) -> Checked {
    if d.0.as_secs() < 1 {
        return fail(
            key,
            format!(
                "{} is too short: use at least 1s (e.g. \"60s\", \"5m\")",
                humantime::format_duration(d.0)
            ),
        );
    }
    Ok(())
}

/// An absolute `http(s)` URL with a host.
pub fn http_url(key: &str, value: &str) -> Checked {
    match url::Url::parse(value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(u) => fail(key, format!("{value:?} is not an http(s) URL (scheme {:?}): write it like \"https://host/path\"", u.scheme())),
        Err(e) => fail(key, format!("{value:?} is not a valid absolute URL ({e}): write it like \"https://host/path\"")),
    }
}

/// The file's bytes (through `${CREDENTIALS_DIRECTORY}`), bounded; a failure names `key`.
pub fn read(key: &str, path: &Path) -> Result<Vec<u8>, Invalid> {
    super::credentials::read(path).map_err(|message| Invalid::new(key, message))
}

/// A token file that exists and holds more than white space.
pub fn non_empty_file(key: &str, path: &Path) -> Checked {
    let bytes = read(key, path)?;
    if String::from_utf8_lossy(&bytes).trim().is_empty() {
        return fail(
            key,
            format!("{} is empty: put the token in it", path.display()),
        );
    }
    Ok(())
}

/// A file of PEM certificates that reqwest can load (one at least).
pub fn ca_file(key: &str, path: &Path) -> Checked {
    let bytes = read(key, path)?;
    let text = String::from_utf8_lossy(&bytes);
    let ok = text.contains("-----BEGIN CERTIFICATE-----")
        && reqwest::Certificate::from_pem_bundle(&bytes).is_ok_and(|v| !v.is_empty());
    if !ok {
        return fail(
            key,
            format!(
                "{} holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")",
                path.display()
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_failure_keeps_its_message_under_any_prefix() {
        let e = at_least_1s("timeout", HumanDuration(Duration::from_millis(500))).unwrap_err();
        assert_eq!(e.key, "timeout");
        assert!(e.message.contains("at least 1s"), "{}", e.message);
        let under = e.clone().under("sinks[1]");
        assert_eq!(under.key, "sinks[1].timeout");
        assert_eq!(under.message, e.message);
        assert_eq!(Invalid::new("", "m").under("sinks[0]").key, "sinks[0]");
        assert_eq!(e.clone().under("").key, "timeout");
        assert!(http_url("url", "ftp://x/in").is_err());
        assert!(http_url("url", "https://x/in").is_ok());
    }
}
