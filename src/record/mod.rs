//! Output records: the event exactly as Docusign sent it, plus `_time`, `source_log_type` and
//! `_integration` spliced in as bytes.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

mod keys;
#[cfg(test)]
mod proptests;
pub use keys::{snake_case_json, snake_case_value, to_snake_case};

/// The two kinds of events the collector pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    CustomerEvents,
    AuditUsers,
}

impl EventType {
    pub const ALL: [EventType; 2] = [EventType::CustomerEvents, EventType::AuditUsers];

    /// The configuration and state name: `customer_events`, `audit_users`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CustomerEvents => "customer_events",
            EventType::AuditUsers => "audit_users",
        }
    }

    /// The command-line name: `customer-events`, `audit-users`.
    pub fn cli_name(self) -> &'static str {
        match self {
            EventType::CustomerEvents => "customer-events",
            EventType::AuditUsers => "audit-users",
        }
    }

    /// The `source_log_type` field of output records.
    pub fn source_log_type(self) -> &'static str {
        match self {
            EventType::CustomerEvents => "customerevent",
            EventType::AuditUsers => "auditusers",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        match s {
            "customer_events" | "customer-events" => Some(EventType::CustomerEvents),
            "audit_users" | "audit-users" => Some(EventType::AuditUsers),
            _ => None,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One output record: a JSON object on one line (no trailing newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub json: String,
    /// `_time` as Unix seconds (Splunk HEC's `time`).
    pub time: i64,
}

/// The records of one page, handed to every sink together.
#[derive(Debug, Clone)]
pub struct Batch {
    pub integration: String,
    pub event_type: EventType,
    pub records: Vec<Record>,
}

impl Batch {
    /// Total size of the records as JSONL (each record plus its newline).
    pub fn jsonl_len(&self) -> usize {
        self.records.iter().map(|r| r.json.len() + 1).sum()
    }
}

/// Builds the records of one stream: the part after `_time` (`source_log_type`, `_integration`)
/// is the same for every record, so it is encoded once.
#[derive(Debug, Clone)]
pub struct Splicer {
    /// `","source_log_type":"…","_integration":"…"}`
    tail: String,
    change_keys: bool,
}

impl Splicer {
    pub fn new(event_type: EventType, integration: &str, change_keys: bool) -> Splicer {
        // Integration names match ^[a-z0-9_-]+$, but serialise anyway: it costs nothing here.
        let name = serde_json::to_string(integration).unwrap_or_else(|_| "\"\"".into());
        let tail = format!(
            "\",\"source_log_type\":\"{}\",\"_integration\":{name}}}",
            event_type.source_log_type()
        );
        Splicer { tail, change_keys }
    }

    /// Build a record from an event's raw JSON. `event` is spliced in unchanged unless
    /// `change_keys` asks for snake_case keys. A value that is not a JSON object is kept whole
    /// under `"event"` so nothing is dropped.
    pub fn build(&self, event: &RawValue, time: i64) -> Record {
        let raw = event.get().trim();
        let converted;
        let body: &str = if self.change_keys {
            converted = snake_case_json(raw);
            converted.as_deref().unwrap_or(raw)
        } else {
            raw
        };
        // Whitespace between tokens may hold line breaks (a pretty-printed answer); inside JSON
        // strings they are always escaped, so turning them into spaces changes no value and
        // keeps the record on one line of JSONL.
        let flattened;
        let body: &str = if memchr::memchr2(b'\n', b'\r', body.as_bytes()).is_some() {
            flattened = body.replace(['\n', '\r'], " ");
            &flattened
        } else {
            body
        };
        let mut json = String::with_capacity(body.len() + 40 + self.tail.len());
        if body.starts_with('{') && body.ends_with('}') {
            let inner = body[1..body.len() - 1].trim();
            json.push('{');
            json.push_str(inner);
            if !inner.is_empty() {
                json.push(',');
            }
        } else {
            json.push_str("{\"event\":");
            json.push_str(body);
            json.push(',');
        }
        json.push_str("\"_time\":\"");
        push_time(&mut json, time);
        json.push_str(&self.tail);
        Record { json, time }
    }
}

/// Build one record (see [`Splicer::build`]); for many records of a stream, keep a [`Splicer`].
pub fn build(
    event: &RawValue,
    time: i64,
    event_type: EventType,
    integration: &str,
    change_keys: bool,
) -> Record {
    Splicer::new(event_type, integration, change_keys).build(event, time)
}

/// Append `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds. Years 0–9999 are written digit by digit
/// (once per record, so no formatting machinery); any other time as chrono writes it.
fn push_time(out: &mut String, unix: i64) {
    let (y, mo, d) = civil_from_days(unix.div_euclid(86_400));
    if (0..=9999).contains(&y) {
        let s = unix.rem_euclid(86_400);
        let mut b = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut v: i64| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, mo);
        put(8, 2, d);
        put(11, 2, s / 3600);
        put(14, 2, s / 60 % 60);
        put(17, 2, s % 60);
        out.extend(b.iter().map(|&c| char::from(c)));
        return;
    }
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    match chrono::DateTime::from_timestamp(unix, 0) {
        Some(t) => {
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
        }
        None => out.push_str("1970-01-01T00:00:00Z"),
    }
}

/// (year, month, day) of the proleptic Gregorian calendar for days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`). Exact for any `days` whose year fits in an i64.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe.saturating_add(era.saturating_mul(400)) + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds.
pub fn format_time(unix: i64) -> String {
    let mut s = String::with_capacity(20);
    push_time(&mut s, unix);
    s
}

/// Parse an RFC 3339 / ISO 8601 timestamp as Docusign writes it (`2023-03-03T09:10:06.0512813Z`,
/// 0 to 9 fractional digits, `Z` or an offset) to Unix seconds, truncating the fraction. Agrees
/// with chrono's RFC 3339 parser (leap seconds included); the common `…Z` form takes a fast path.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if let Some(t) = parse_utc_fast(s.as_bytes()) {
        return Some(t);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

/// `YYYY-MM-DDTHH:MM:SS[.f*]Z`; `None` for anything else (left to the full parser).
fn parse_utc_fast(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[b.len() - 1] != b'Z' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let rest = &b[19..b.len() - 1];
    let frac_ok = rest.is_empty()
        || (rest[0] == b'.' && rest.len() > 1 && rest[1..].iter().all(u8::is_ascii_digit));
    if !frac_ok {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    };
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (h, mi, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, mo, d)?;
    let t = date.and_hms_opt(h, mi, sec)?;
    Some(t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn timestamps_with_zero_to_seven_fraction_digits() {
        let base = parse_timestamp("2023-03-03T09:10:06Z").unwrap();
        assert_eq!(base, 1677834606);
        for s in [
            "2023-03-03T09:10:06.0Z",
            "2023-03-03T09:10:06.05Z",
            "2023-03-03T09:10:06.0512813Z",
            "2023-03-03T09:10:06.999999999Z",
            "2023-03-03T11:10:06.0512813+02:00",
        ] {
            assert_eq!(parse_timestamp(s), Some(base), "{s}");
        }
        for bad in [
            "",
            "yesterday",
            "2023-13-03T09:10:06Z",
            "2023-03-03T09:10:06.Z",
            "2023-03-03",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        // Found by the property tests: a leap second failed the fast path and was not given
        // to the full parser, which reads it as the second before.
        assert_eq!(parse_timestamp("2016-12-31T23:59:60Z"), Some(1483228799));
        assert_eq!(parse_timestamp("2016-12-31T23:59:60.5Z"), Some(1483228799));
        assert_eq!(format_time(base), "2023-03-03T09:10:06Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(4102444799), "2099-12-31T23:59:59Z");
        assert_eq!(format_time(951782400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn splices_fields_and_keeps_the_event_bytes() {
        let ev = r#"{"timestamp":"2023-03-03T09:10:06.0512813Z","eventId":"e1","data":{"A":1.50}}"#;
        let r = build(
            &raw(ev),
            1677834606,
            EventType::CustomerEvents,
            "acme",
            false,
        );
        assert!(r.json.starts_with(&ev[..ev.len() - 1]), "{}", r.json);
        let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
        assert_eq!(v["_time"], "2023-03-03T09:10:06Z");
        assert_eq!(v["source_log_type"], "customerevent");
        assert_eq!(v["_integration"], "acme");
        assert!(r.json.contains(r#""A":1.50"#), "number text kept as sent");
    }

    #[test]
    fn empty_object_and_non_objects_are_kept() {
        let r = build(&raw("{ }"), 0, EventType::AuditUsers, "x", false);
        let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
        assert_eq!(v["source_log_type"], "auditusers");
        let r = build(&raw("[1,2]"), 0, EventType::CustomerEvents, "x", false);
        let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
        assert_eq!(v["event"], serde_json::json!([1, 2]));
    }

    #[test]
    fn change_keys_snake_cases_nested_keys_but_not_added_ones() {
        let ev = r#"{"eventId":"e1","ipAddressLocation":{"countryCode":"US"},"data":{"AffectedUserId":"u"},"list":[{"userID":1}]}"#;
        let r = build(&raw(ev), 0, EventType::CustomerEvents, "acme", true);
        let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
        assert_eq!(v["event_id"], "e1");
        assert_eq!(v["ip_address_location"]["country_code"], "US");
        assert_eq!(v["data"]["affected_user_id"], "u");
        assert_eq!(v["list"][0]["user_id"], 1);
        assert!(v.get("_time").is_some() && v.get("_integration").is_some());
    }

    // An event from a pretty-printed page kept its line breaks, so one record spanned several
    // lines of JSONL.
    #[test]
    fn line_breaks_between_tokens_never_reach_the_record() {
        let ev = "{\n  \"eventId\": \"e\\n1\",\r\n  \"data\": {\"a\": [1,\n 2]}\n}";
        for change_keys in [false, true] {
            let r = build(&raw(ev), 0, EventType::CustomerEvents, "acme", change_keys);
            assert!(!r.json.contains(['\n', '\r']), "{}", r.json);
            let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
            assert_eq!(
                v["eventId"].as_str().or(v["event_id"].as_str()),
                Some("e\n1")
            );
            assert_eq!(v["data"]["a"], serde_json::json!([1, 2]));
        }
        let r = build(&raw("[1,\n2]"), 0, EventType::CustomerEvents, "acme", false);
        assert!(!r.json.contains('\n'));
    }
}
