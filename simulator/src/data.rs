//! Deterministic data: hashing, time formats, users.

use crate::knobs::EsignDateFormat;
use std::fmt::Write as _;

/// 100 ns ticks per second.
pub(crate) const TICKS_PER_SEC: i64 = 10_000_000;
/// .NET ticks (since 0001-01-01) at the Unix epoch.
pub(crate) const NET_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// SplitMix64 finalizer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of (seed, domain, index).
pub(crate) fn h(seed: u64, domain: u64, index: u64) -> u64 {
    mix(seed ^ mix(domain.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ mix(index)))
}

/// A version-4-looking UUID from two hashes.
pub(crate) fn uuid(a: u64, b: u64) -> String {
    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// Now, in 100 ns ticks since the Unix epoch.
pub(crate) fn now_ticks() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64) * TICKS_PER_SEC + i64::from(d.subsec_nanos() / 100)
}

/// Now, in seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    now_ticks().div_euclid(TICKS_PER_SEC)
}

fn datetime(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SS[.fffffff]Z` from ticks.
pub(crate) fn write_iso_ticks(out: &mut String, ticks: i64, fraction: bool) {
    let secs = ticks.div_euclid(TICKS_PER_SEC);
    let _ = write!(out, "{}", datetime(secs).format("%Y-%m-%dT%H:%M:%S"));
    if fraction {
        let _ = write!(out, ".{:07}", ticks.rem_euclid(TICKS_PER_SEC));
    }
    out.push('Z');
}

/// `YYYY-MM-DDTHH:MM:SSZ` from seconds.
pub(crate) fn iso_secs(secs: i64) -> String {
    datetime(secs).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// eSignature's `M/D/YYYY h:mm:ss AM|PM` (UTC).
pub(crate) fn esign_date(secs: i64) -> String {
    use chrono::{Datelike, Timelike};
    let dt = datetime(secs);
    let (pm, hour) = dt.hour12();
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        dt.month(),
        dt.day(),
        dt.year(),
        hour,
        dt.minute(),
        dt.second(),
        if pm { "PM" } else { "AM" }
    )
}

/// eSignature's `modifiedDate` for the true time `secs` (UTC), rendered `offset` seconds off UTC.
pub(crate) fn esign_modified_date(secs: i64, offset: i64, format: EsignDateFormat) -> String {
    let wall = secs.saturating_add(offset);
    match format {
        EsignDateFormat::Us => esign_date(wall),
        EsignDateFormat::Iso8601NoZone => datetime(wall).format("%Y-%m-%dT%H:%M:%S").to_string(),
        EsignDateFormat::Iso8601 => {
            let mut s = datetime(wall).format("%Y-%m-%dT%H:%M:%S").to_string();
            if offset == 0 {
                s.push('Z');
            } else {
                let sign = if offset < 0 { '-' } else { '+' };
                let abs = offset.unsigned_abs();
                let _ = write!(s, "{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60);
            }
            s
        }
    }
}

/// Parse an RFC 3339 / ISO 8601 time (with zone, or without one meaning UTC; or a bare date) to ticks.
pub(crate) fn parse_iso_ticks(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let to_ticks = |secs: i64, nanos: u32| secs * TICKS_PER_SEC + i64::from(nanos / 100);
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(to_ticks(dt.timestamp(), dt.timestamp_subsec_nanos()));
    }
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        let u = dt.and_utc();
        return Some(to_ticks(u.timestamp(), u.timestamp_subsec_nanos()));
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(to_ticks(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp(), 0))
}

/// The id of user `index`.
pub(crate) fn user_id(seed: u64, index: u64) -> String {
    uuid(h(seed, 20, index), h(seed, 21, index))
}

/// One Admin / eSignature user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub index: u64,
    pub id: String,
    pub first: String,
    pub last: String,
    pub email: String,
    /// Admin `user_status`: active, created or closed.
    pub status: &'static str,
    /// Admin `membership_status` (the account membership): activation_required, activation_sent,
    /// active, closed or disabled; eSignature's `userStatus` follows it.
    pub membership: &'static str,
    pub created: i64,
    pub modified: i64,
    /// Pseudo-random listing order (redrawn by a reshuffle).
    pub order: u64,
    pub admin: bool,
    /// eSignature does not know this user.
    pub esign_unknown: bool,
    /// Users:list leaves this user out.
    pub list_omitted: bool,
    /// Users:list gives this user without `userSettings.modifiedDate`.
    pub list_undated: bool,
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
    "Allen", "Dijkstra",
];

/// Generate user `index`: created in the past, modified at `modified`.
pub(crate) fn make_user(seed: u64, index: u64, created: i64, modified: i64) -> User {
    let r = |d: u64| h(seed, 200 + d, index);
    let first = FIRST[(r(0) % FIRST.len() as u64) as usize].to_string();
    let last = LAST[(r(1) % LAST.len() as u64) as usize].to_string();
    let email = format!(
        "{}.{}{}@example.com",
        first.to_lowercase(),
        last.to_lowercase(),
        index
    );
    let (status, membership) = match r(2) % 20 {
        0 | 1 => ("closed", "closed"),
        2 => ("created", "activation_required"),
        3 => ("created", "activation_sent"),
        4 => ("active", "disabled"),
        _ => ("active", "active"),
    };
    User {
        index,
        id: user_id(seed, index),
        first,
        last,
        email,
        status,
        membership,
        created,
        modified,
        order: r(3),
        admin: r(4) % 5 == 0,
        esign_unknown: false,
        list_omitted: false,
        list_undated: false,
    }
}

/// The users present at start: modification times spread over the past five days, about three
/// users sharing each second.
pub(crate) fn initial_users(seed: u64, count: usize, now: i64) -> Vec<User> {
    let buckets = (count as u64 / 3).max(1);
    let span = 5 * 86_400;
    (0..count as u64)
        .map(|i| {
            let bucket = h(seed, 300, i) % buckets;
            let modified = now - 60 - (bucket as i64 * span) / buckets as i64;
            let created = modified - 86_400 * (1 + (h(seed, 301, i) % 300) as i64);
            make_user(seed, i, created, modified)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esign_date_has_no_leading_zeros() {
        // 2026-03-12T15:17:20Z
        let secs = chrono::DateTime::parse_from_rfc3339("2026-03-12T15:17:20Z")
            .map(|d| d.timestamp())
            .unwrap_or(0);
        assert_eq!(esign_date(secs), "3/12/2026 3:17:20 PM");
        let midnight = chrono::DateTime::parse_from_rfc3339("2026-01-02T00:05:09Z")
            .map(|d| d.timestamp())
            .unwrap_or(0);
        assert_eq!(esign_date(midnight), "1/2/2026 12:05:09 AM");
    }

    #[test]
    fn modified_date_offsets_and_forms() {
        let secs = chrono::DateTime::parse_from_rfc3339("2026-03-12T15:17:20Z")
            .map(|d| d.timestamp())
            .unwrap_or(0);
        let behind = -8 * 3600;
        let f = |offset, format| esign_modified_date(secs, offset, format);
        assert_eq!(f(0, EsignDateFormat::Us), "3/12/2026 3:17:20 PM");
        assert_eq!(f(behind, EsignDateFormat::Us), "3/12/2026 7:17:20 AM");
        assert_eq!(f(8 * 3600, EsignDateFormat::Us), "3/12/2026 11:17:20 PM");
        assert_eq!(f(0, EsignDateFormat::Iso8601), "2026-03-12T15:17:20Z");
        assert_eq!(
            f(behind, EsignDateFormat::Iso8601),
            "2026-03-12T07:17:20-08:00"
        );
        assert_eq!(
            f(5 * 3600 + 1800, EsignDateFormat::Iso8601),
            "2026-03-12T20:47:20+05:30"
        );
        assert_eq!(
            f(behind, EsignDateFormat::Iso8601NoZone),
            "2026-03-12T07:17:20"
        );
    }

    #[test]
    fn iso_parsing_forms() {
        let z = parse_iso_ticks("2024-01-01T00:00:00Z");
        assert_eq!(z, Some(1_704_067_200 * TICKS_PER_SEC));
        assert_eq!(parse_iso_ticks("2024-01-01"), z);
        assert_eq!(parse_iso_ticks("2024-01-01T00:00:00"), z);
        assert_eq!(parse_iso_ticks("aa_1_2_3"), None);
    }

    #[test]
    fn some_users_share_a_modification_second() {
        let users = initial_users(1, 300, 1_800_000_000);
        let mut seen = std::collections::HashSet::new();
        let shared = users.iter().filter(|u| !seen.insert(u.modified)).count();
        assert!(shared > 10, "only {shared} users share a second");
    }
}
