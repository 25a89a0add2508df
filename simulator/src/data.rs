//! Deterministic data: hashing, time formats, customer events rendered on demand, users.

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

/// Fixed fields shared by every event, already JSON-escaped (quotes included).
pub(crate) struct EventCtx {
    pub seed: u64,
    pub account_id: String,
    pub organization_id: String,
    pub integrator_key: String,
    /// Users at start, for `userId`.
    pub users: u64,
}

impl EventCtx {
    pub(crate) fn new(seed: u64, account: &str, org: &str, ik: &str, users: u64) -> Self {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
        EventCtx {
            seed,
            account_id: q(account),
            organization_id: q(org),
            integrator_key: q(ik),
            users,
        }
    }
}

/// The id of event `index`.
pub(crate) fn event_id(seed: u64, index: u64) -> String {
    uuid(h(seed, 10, index), h(seed, 11, index))
}

/// The id of user `index`.
pub(crate) fn user_id(seed: u64, index: u64) -> String {
    uuid(h(seed, 20, index), h(seed, 21, index))
}

const LOCATIONS: &[(f64, f64, &str, &str, &str)] = &[
    (47.6062, -122.3321, "US", "WA", "Seattle"),
    (37.7749, -122.4194, "US", "CA", "San Francisco"),
    (40.7128, -74.006, "US", "NY", "New York"),
    (51.5072, -0.1276, "GB", "ENG", "London"),
    (48.8566, 2.3522, "FR", "IDF", "Paris"),
    (-33.8688, 151.2093, "AU", "NSW", "Sydney"),
    (50.1109, 8.6821, "DE", "HE", "Frankfurt am Main"),
];

const AGENTS: &[&str] = &[
    "",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "DocuSign-Java-SDK/4.3.0",
    "python-requests/2.31.0",
];

/// (object, action, property, field, result)
const KINDS: &[(&str, &str, &str, &str, &str)] = &[
    ("Account", "UserAdded", "", "", ""),
    ("User", "Login", "", "", "Success"),
    ("User", "Login", "", "", "Failure"),
    ("Envelope", "EnvelopeSent", "", "", ""),
    (
        "Account",
        "PermissionProfileChanged",
        "PermissionProfile",
        "CanSendEnvelope",
        "",
    ),
    (
        "Account",
        "AccountSettingChanged",
        "Setting",
        "EnableSigningExtension",
        "",
    ),
    ("User", "PasswordChanged", "", "", "Success"),
    ("Envelope", "EnvelopeVoided", "", "", ""),
    ("Account", "UserClosed", "", "", ""),
    ("Integration", "IntegratorKeyAdded", "", "", ""),
];

/// Render event `index` (ingested at `ingest` ticks) as one JSON object appended to `out`.
pub(crate) fn render_event(out: &mut String, ctx: &EventCtx, index: u64, ingest: i64) {
    let r = |d: u64| h(ctx.seed, 100 + d, index);
    let offset = (r(0) % (300 * TICKS_PER_SEC as u64)) as i64;
    out.push_str("{\"timestamp\":\"");
    write_iso_ticks(out, ingest - offset, r(1) % 11 != 0);
    let _ = write!(out, "\",\"eventId\":\"{}\"", event_id(ctx.seed, index));
    let user = user_id(ctx.seed, r(2) % ctx.users.max(1));
    let _ = write!(
        out,
        ",\"site\":\"DEMO\",\"accountId\":{},\"organizationId\":{},\"userId\":\"{}\"",
        ctx.account_id, ctx.organization_id, user
    );
    let agent = AGENTS[(r(3) % AGENTS.len() as u64) as usize];
    let ip = r(4);
    let _ = write!(
        out,
        ",\"integratorKey\":{},\"userAgent\":\"{}\",\"ipAddress\":\"{}.{}.{}.{}\"",
        ctx.integrator_key,
        agent,
        (ip >> 24) % 223 + 1,
        (ip >> 16) & 0xFF,
        (ip >> 8) & 0xFF,
        ip % 254 + 1
    );
    let (lat, lon, country, state, city) = LOCATIONS[(r(5) % LOCATIONS.len() as u64) as usize];
    let _ = write!(
        out,
        ",\"ipAddressLocation\":{{\"latitude\":{lat},\"longitude\":{lon},\"country\":\"{country}\",\"state\":\"{state}\",\"city\":\"{city}\"}}"
    );
    let (object, action, property, field, result) = KINDS[(r(6) % KINDS.len() as u64) as usize];
    let source = ["API", "Web", "Mobile"][(r(7) % 3) as usize];
    let _ = write!(
        out,
        ",\"object\":\"{object}\",\"action\":\"{action}\",\"property\":\"{property}\",\"field\":\"{field}\",\"result\":\"{result}\",\"source\":\"{source}\",\"data\":{{"
    );
    let other = uuid(r(8), r(9));
    match action {
        "UserAdded" | "UserClosed" => {
            let _ = write!(
                out,
                "\"AffectedUserId\":\"{other}\",\"PermissionProfileId\":\"{}\"",
                14_414_470 + r(10) % 10
            );
        }
        "EnvelopeSent" | "EnvelopeVoided" => {
            let _ = write!(out, "\"EnvelopeId\":\"{other}\"");
        }
        "PermissionProfileChanged" | "AccountSettingChanged" => {
            let old = r(10) % 2 == 0;
            let _ = write!(out, "\"OldValue\":\"{old}\",\"NewValue\":\"{}\"", !old);
        }
        "Login" => {
            let _ = write!(out, "\"LoginType\":\"Password\",\"SessionId\":\"{other}\"");
        }
        _ => {}
    }
    out.push_str("}}");
}

/// One Admin / eSignature user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub index: u64,
    pub id: String,
    pub first: String,
    pub last: String,
    pub email: String,
    /// Admin `user_status`.
    pub status: &'static str,
    pub created: i64,
    pub modified: i64,
    /// Stable pseudo-random listing order.
    pub order: u64,
    pub admin: bool,
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
    let status = match r(2) % 10 {
        0 => "closed",
        1 => "pending",
        _ => "active",
    };
    User {
        index,
        id: user_id(seed, index),
        first,
        last,
        email,
        status,
        created,
        modified,
        order: r(3),
        admin: r(4) % 5 == 0,
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
    fn events_render_as_valid_json() {
        let ctx = EventCtx::new(7, "acc\"ount", "org", "ik", 10);
        let mut s = String::new();
        for i in 0..50 {
            s.clear();
            render_event(&mut s, &ctx, i, 17_000_000_000_000_000);
            let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
            assert_eq!(v["eventId"], event_id(7, i));
            assert_eq!(v["accountId"], "acc\"ount");
            assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        }
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
