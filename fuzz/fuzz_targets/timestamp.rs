//! `_time`: parse_timestamp agrees with chrono's RFC 3339 parser (truncated to seconds) on every
//! input, and what it reads formats back to the same second.
#![no_main]

use docusign_collector::record::{format_time, parse_timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    let got = parse_timestamp(s);
    let reference = chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp());
    assert_eq!(got, reference, "{s:?}");
    if let Some(t) = got {
        let text = format_time(t);
        if (-62_167_219_200..=253_402_300_799).contains(&t) {
            assert_eq!(parse_timestamp(&text), Some(t), "{s:?} → {text}");
        }
    }
});
