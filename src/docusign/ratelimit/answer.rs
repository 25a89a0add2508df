//! What one answer's rate-limit headers ask for, read without trusting them.
//!
//! Every value comes from the network (Docusign, or a proxy in front of it): it may be absent,
//! not a number, negative, far larger than any integer type, or an HTTP date centuries away.
//! Numbers are read saturating (a run of digits too long for an `i64` is `i64::MAX`), times are
//! compared as whole seconds in `i128` (no `SystemTime + Duration` that can overflow), and every
//! wait an answer imposes is clamped to the limiter's `max_wait` (at most [`MAX_WAIT`], one
//! hour: Docusign's budget window) with a warning that shows the raw value, cut.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest wait one answer can impose: Docusign's hourly budget resets within an hour, so a
/// longer `Retry-After` or `X-RateLimit-Reset` is a broken proxy or a hostile answer.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Added to a wait until `X-RateLimit-Reset`: Docusign's clock and ours differ a little.
pub const RESET_MARGIN: Duration = Duration::from_millis(250);

/// How many characters of a raw header value a warning shows.
const RAW_SHOWN: usize = 40;

/// A header's value as text, cut for a log line (with "…" when cut).
pub(super) fn cut(raw: &str) -> String {
    let mut out: String = raw.chars().take(RAW_SHOWN).collect();
    if raw.chars().nth(RAW_SHOWN).is_some() {
        out.push('…');
    }
    out
}

/// An integer header, saturating: `"99999999999999999999"` is `i64::MAX`, `"-99…9"` is
/// `i64::MIN`; anything but an optional sign and digits is `None`.
pub(super) fn int(raw: &str) -> Option<i64> {
    let v = raw.trim();
    if let Ok(n) = v.parse::<i64>() {
        return Some(n);
    }
    let (negative, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(if negative { i64::MIN } else { i64::MAX })
}

/// Whole seconds from `now` until the Unix time `at` (negative when `at` is past), exact for any
/// `i64`.
fn secs_until(at: i64, now: SystemTime) -> i128 {
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::from(d.as_secs()),
        Err(e) => -i128::from(e.duration().as_secs()),
    };
    i128::from(at) - now
}

/// A number of seconds as a wait, `None` when it is longer than `max` (the caller clamps).
fn wait_of(secs: i128, max: Duration) -> Option<Duration> {
    let secs = u64::try_from(secs.max(0)).ok()?;
    let d = Duration::from_secs(secs);
    (d <= max).then_some(d)
}

/// When the hourly budget resets, as `X-RateLimit-Reset` says (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reset {
    /// Already past (our clock ahead of Docusign's, or the budget just renewed).
    Past,
    /// In this long (at most `max`).
    In(Duration),
    /// Further than `max` away: clamped to it.
    Beyond,
}

/// `X-RateLimit-Reset` at `now`, judged against `max`.
pub(super) fn reset(raw: &str, now: SystemTime, max: Duration) -> Option<Reset> {
    let secs = secs_until(int(raw)?, now);
    if secs <= 0 {
        return Some(Reset::Past);
    }
    Some(wait_of(secs, max).map_or(Reset::Beyond, Reset::In))
}

/// `Retry-After`: delay seconds or an HTTP date. `Some(None)` when it asks for more than `max`;
/// `None` when it is neither (or a negative number).
pub(super) fn retry_after(raw: &str, now: SystemTime, max: Duration) -> Option<Option<Duration>> {
    let v = raw.trim();
    let secs = match int(v) {
        Some(n) if n < 0 => return None,
        Some(n) => i128::from(n),
        None => secs_until(
            chrono::DateTime::parse_from_rfc2822(v).ok()?.timestamp(),
            now,
        ),
    };
    Some(wait_of(secs, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = MAX_WAIT;

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn integers_saturate_and_refuse_what_is_not_one() {
        assert_eq!(int(" 42 "), Some(42));
        assert_eq!(int("-3"), Some(-3));
        assert_eq!(int("18446744073709551615"), Some(i64::MAX));
        assert_eq!(int("-18446744073709551615"), Some(i64::MIN));
        assert_eq!(int("+7"), Some(7));
        for bad in ["", "-", "1.5", "1e9", "ten", "0x10", "٣"] {
            assert_eq!(int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_reset_is_past_near_or_beyond_the_clamp() {
        let now = at(1_000_000);
        assert_eq!(reset("999999", now, HOUR), Some(Reset::Past));
        assert_eq!(reset("-5", now, HOUR), Some(Reset::Past));
        assert_eq!(reset(&i64::MIN.to_string(), now, HOUR), Some(Reset::Past));
        assert_eq!(
            reset("1000030", now, HOUR),
            Some(Reset::In(Duration::from_secs(30)))
        );
        assert_eq!(
            reset("1003600", now, HOUR),
            Some(Reset::In(HOUR)),
            "exactly an hour is allowed"
        );
        assert_eq!(reset("1003601", now, HOUR), Some(Reset::Beyond));
        assert_eq!(reset("9223372036854775807", now, HOUR), Some(Reset::Beyond));
        assert_eq!(reset("soon", now, HOUR), None);
        // A clock before 1970 does not panic either.
        assert_eq!(
            reset("0", UNIX_EPOCH - Duration::from_secs(10), HOUR),
            Some(Reset::In(Duration::from_secs(10)))
        );
    }

    #[test]
    fn retry_after_is_seconds_or_a_date_and_never_more_than_the_clamp() {
        let now = at(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            retry_after("120", now, HOUR),
            Some(Some(Duration::from_secs(120)))
        );
        assert_eq!(retry_after("18446744073709551615", now, HOUR), Some(None));
        assert_eq!(retry_after("3601", now, HOUR), Some(None));
        assert_eq!(retry_after("-1", now, HOUR), None);
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now, HOUR),
            Some(Some(Duration::from_secs(60)))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, HOUR),
            Some(Some(Duration::ZERO)),
            "a date already past: no wait"
        );
        assert_eq!(
            retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now, HOUR),
            Some(None)
        );
        assert_eq!(retry_after("tomorrow", now, HOUR), None);
    }

    #[test]
    fn raw_values_are_cut_for_the_log() {
        assert_eq!(cut("12"), "12");
        let long = "9".repeat(100);
        let shown = cut(&long);
        assert_eq!(shown.chars().count(), RAW_SHOWN + 1);
        assert!(shown.ends_with('…'));
    }
}
