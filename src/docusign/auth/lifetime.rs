//! A token's lifetime, from an answer or a stored row, read without trusting it.
//!
//! `expires_in` comes from the token endpoint (or whatever answers in its place) and
//! `expires_at`/`obtained_at` from the state database (which a bug, an old version or a hand
//! edit may have filled with anything). So: `expires_in` is clamped to
//! [`MIN_LIFETIME`]`..=`[`MAX_LIFETIME`] (logged when it was out of range), every sum is
//! saturating, and a stored token whose numbers no grant of ours could have produced is not
//! used (a new grant replaces it).

use serde::Deserialize;

/// The shortest lifetime taken from an answer: a shorter (or negative) `expires_in` would have
/// every call ask for a new token.
pub const MIN_LIFETIME: i64 = 60;
/// The longest lifetime taken from an answer: Docusign's JWT-grant tokens live one hour; a day
/// leaves room and keeps a corrupt answer from caching a token for ever.
pub const MAX_LIFETIME: i64 = 24 * 3600;
/// The lifetime assumed when the answer gives none (Docusign's: one hour).
pub const DEFAULT_LIFETIME: i64 = 3600;
/// Tokens are renewed this long before they expire, or a quarter of their lifetime if shorter.
pub const MAX_RENEW_MARGIN: i64 = 600;

/// The lifetime to use for an answer's `expires_in`, and whether it had to be clamped.
pub fn lifetime(expires_in: Option<i64>) -> (i64, bool) {
    match expires_in {
        None => (DEFAULT_LIFETIME, false),
        Some(s) => {
            let used = s.clamp(MIN_LIFETIME, MAX_LIFETIME);
            (used, used != s)
        }
    }
}

/// When a token obtained at `now` with `lifetime` expires (saturating).
pub fn expires_at(now: i64, lifetime: i64) -> i64 {
    now.saturating_add(lifetime)
}

/// Whether a token obtained at `obtained_at` and expiring at `expires_at` may still be used at
/// `now`: before its renewal margin, and only if its numbers are ones a grant could give (a
/// lifetime of 1 s ..= [`MAX_LIFETIME`], ending at most that far from now).
pub fn usable(obtained_at: i64, expires_at: i64, now: i64) -> bool {
    let lifetime = expires_at.saturating_sub(obtained_at);
    let left = expires_at.saturating_sub(now);
    if !(1..=MAX_LIFETIME).contains(&lifetime) || left > MAX_LIFETIME {
        return false;
    }
    let margin = MAX_RENEW_MARGIN.min(lifetime / 4);
    left > margin
}

/// `expires_in` as the answer wrote it: an integer of any size (saturated to `i64`), a number
/// with a fraction (truncated) or a numeric string; anything else counts as absent.
pub(crate) fn lenient_seconds<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<i64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            // `as` saturates a float (NaN becomes 0), which the clamp then bounds.
            .or_else(|| n.as_f64().map(|f| f as i64)),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_is_clamped_to_a_minute_and_a_day() {
        assert_eq!(lifetime(None), (3600, false));
        assert_eq!(lifetime(Some(3600)), (3600, false));
        assert_eq!(lifetime(Some(0)), (60, true));
        assert_eq!(lifetime(Some(-5)), (60, true));
        assert_eq!(lifetime(Some(i64::MIN)), (60, true));
        assert_eq!(lifetime(Some(i64::MAX)), (86_400, true));
        assert_eq!(lifetime(Some(86_401)), (86_400, true));
        assert_eq!(expires_at(i64::MAX - 10, 3600), i64::MAX);
    }

    #[test]
    fn a_token_is_renewed_before_its_margin_and_corrupt_rows_are_not_used() {
        let t0 = 1_800_000_000;
        // One hour: renewed ten minutes before it ends.
        assert!(usable(t0, t0 + 3600, t0));
        assert!(usable(t0, t0 + 3600, t0 + 2999));
        assert!(!usable(t0, t0 + 3600, t0 + 3000));
        // Twenty minutes: a quarter (five minutes) before.
        assert!(usable(t0, t0 + 1200, t0 + 899));
        assert!(!usable(t0, t0 + 1200, t0 + 900));
        // Rows no grant could have written.
        for (obtained, expires) in [
            (t0, t0),
            (t0, t0 - 1),
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (t0, i64::MAX),
            (t0 + 100 * 86_400, t0 + 100 * 86_400 + 3600),
            (0, 1),
        ] {
            assert!(!usable(obtained, expires, t0), "{obtained} {expires}");
        }
        // And a clock at either end of time does not overflow.
        assert!(!usable(t0, t0 + 3600, i64::MIN));
        assert!(!usable(t0, t0 + 3600, i64::MAX));
    }

    #[test]
    fn expires_in_is_read_from_any_number() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "lenient_seconds")]
            expires_in: Option<i64>,
        }
        let read = |json: &str| serde_json::from_str::<T>(json).unwrap().expires_in;
        assert_eq!(read(r#"{"expires_in":3600}"#), Some(3600));
        assert_eq!(
            read(r#"{"expires_in":18446744073709551615}"#),
            Some(i64::MAX)
        );
        assert_eq!(
            read(r#"{"expires_in":-9223372036854775808}"#),
            Some(i64::MIN)
        );
        assert_eq!(read(r#"{"expires_in":1e300}"#), Some(i64::MAX));
        assert_eq!(read(r#"{"expires_in":-1e300}"#), Some(i64::MIN));
        assert_eq!(read(r#"{"expires_in":12.9}"#), Some(12));
        assert_eq!(read(r#"{"expires_in":"3600"}"#), Some(3600));
        assert_eq!(read(r#"{"expires_in":"soon"}"#), None);
        assert_eq!(read(r#"{"expires_in":null}"#), None);
        assert_eq!(read(r#"{"expires_in":[1]}"#), None);
        assert_eq!(read(r#"{}"#), None);
    }
}
