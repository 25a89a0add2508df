//! Customer events, rendered on demand from (seed, index, ingestion time).

use crate::data::{h, user_id, uuid, write_iso_ticks, TICKS_PER_SEC};
use std::fmt::Write as _;

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

const LOCATIONS: &[Location] = &[
    (47.6062, -122.3321, "US", "WA", "Seattle"),
    (37.7749, -122.4194, "US", "CA", "San Francisco"),
    (40.7128, -74.006, "US", "NY", "New York"),
    (51.5072, -0.1276, "GB", "ENG", "London"),
    (48.8566, 2.3522, "FR", "IDF", "Paris"),
    (-33.8688, 151.2093, "AU", "NSW", "Sydney"),
    (50.1109, 8.6821, "DE", "HE", "Frankfurt am Main"),
];

/// A user agent and what the v1 endpoint makes of it:
/// (userAgent, browser, browser version, os, os version, device family).
const AGENTS: &[Agent] = &[
    ("", "", "", "", "", ""),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Chrome",
        "124.0.0",
        "Windows",
        "10",
        "Other",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        "Safari",
        "17.4",
        "Mac OS X",
        "14.4",
        "Mac",
    ),
    ("DocuSign-Java-SDK/4.3.0", "Other", "", "Other", "", "Other"),
    ("python-requests/2.31.0", "Python Requests", "2.31", "Other", "", "Other"),
];

/// `{"major","minor","patch"}` from a dotted version ("" when absent).
fn write_version(out: &mut String, version: &str) {
    let mut parts = version.split('.');
    let mut next = || parts.next().unwrap_or("");
    let (major, minor, patch) = (next(), next(), next());
    let _ = write!(
        out,
        "{{\"major\":\"{major}\",\"minor\":\"{minor}\",\"patch\":\"{patch}\"}}"
    );
}

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
/// `flat`: the newer (v1) endpoint's shape, with the flattened fields of Docusign's `StreamingEventRow`.
pub(crate) fn render_event(out: &mut String, ctx: &EventCtx, index: u64, ingest: i64, flat: bool) {
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
        agent.0,
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
        ",\"object\":\"{object}\",\"action\":\"{action}\",\"property\":\"{property}\",\"field\":\"{field}\",\"result\":\"{result}\",\"source\":\"{source}\""
    );
    let other = uuid(r(8), r(9));
    let affected = matches!(action, "UserAdded" | "UserClosed").then_some(other.as_str());
    if flat {
        write_flat(out, r, agent, (lat, lon, country, state, city), affected);
    }
    out.push_str(",\"data\":{");
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

type Agent = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
type Location = (f64, f64, &'static str, &'static str, &'static str);

/// The v1 endpoint's flattened fields of one event; `r` draws the event's pseudo-random values.
fn write_flat(
    out: &mut String,
    r: impl Fn(u64) -> u64,
    agent: Agent,
    location: Location,
    affected: Option<&str>,
) {
    let (_, browser, browser_version, os, os_version, device) = agent;
    out.push_str(",\"userAgentClientInfo\":{\"browser\":{\"family\":\"");
    out.push_str(browser);
    out.push_str("\",\"version\":");
    write_version(out, browser_version);
    let _ = write!(
            out,
            "}},\"device\":{{\"family\":\"{device}\",\"brand\":\"\",\"model\":\"\"}},\"os\":{{\"family\":\"{os}\",\"version\":"
        );
    write_version(out, os_version);
    out.push_str("}}");
    let referenced = uuid(r(20), r(21));
    let (proxy_status, proxy_type, proxy_level) = match r(22) % 8 {
        0 => ("Proxy", "VPN", "Anonymous"),
        1 => ("Proxy", "Hosting", "Transparent"),
        _ => ("NoProxy", "", ""),
    };
    let (lat, lon, country, state, city) = location;
    let _ = write!(
            out,
            ",\"isUserMemberOfDomain\":{},\"referencedUserIsMemberOfDomain\":{},\"referencedUserId\":\"{referenced}\",\"proxyStatus\":\"{proxy_status}\",\"proxyType\":\"{proxy_type}\",\"proxyLevel\":\"{proxy_level}\",\"latitude\":{lat},\"longitude\":{lon},\"city\":\"{city}\",\"state\":\"{state}\",\"country\":\"{country}\",\"device\":\"{device}\",\"browser\":\"{browser}\",\"os\":\"{os}\"",
            !r(23).is_multiple_of(4),
            !r(24).is_multiple_of(3),
        );
    match affected {
        Some(id) => {
            let _ = write!(
                out,
                ",\"affectedUserId\":\"{id}\",\"affectedUserIsMemberOfDomain\":{}",
                r(25).is_multiple_of(2)
            );
        }
        None => out.push_str(",\"affectedUserId\":\"\",\"affectedUserIsMemberOfDomain\":false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_as_valid_json() {
        let ctx = EventCtx::new(7, "acc\"ount", "org", "ik", 10);
        let mut s = String::new();
        for flat in [false, true] {
            for i in 0..50 {
                s.clear();
                render_event(&mut s, &ctx, i, 17_000_000_000_000_000, flat);
                let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
                assert_eq!(v["eventId"], event_id(7, i));
                assert_eq!(v["accountId"], "acc\"ount");
                assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
                assert!(v["data"].is_object());
                assert_eq!(v.get("os").is_some(), flat, "{s}");
            }
        }
    }

    #[test]
    fn v1_events_carry_the_flattened_fields() {
        let ctx = EventCtx::new(7, "a", "o", "ik", 10);
        let mut s = String::new();
        render_event(&mut s, &ctx, 3, 17_000_000_000_000_000, true);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
        for k in [
            "userAgentClientInfo",
            "isUserMemberOfDomain",
            "referencedUserIsMemberOfDomain",
            "referencedUserId",
            "proxyStatus",
            "proxyType",
            "proxyLevel",
            "latitude",
            "longitude",
            "city",
            "state",
            "country",
            "device",
            "browser",
            "os",
            "affectedUserId",
            "affectedUserIsMemberOfDomain",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {s}");
        }
        assert_eq!(v["latitude"], v["ipAddressLocation"]["latitude"]);
        assert_eq!(v["city"], v["ipAddressLocation"]["city"]);
        assert!(v["userAgentClientInfo"]["browser"]["version"]["major"].is_string());
        assert!(v["isUserMemberOfDomain"].is_boolean());
    }
}
