//! Property tests: whatever headers and numbers an answer carries, the rate limiter and the token
//! cache never panic, and every wait they take from an answer stays within its clamp.

use super::auth::lifetime;
use super::ratelimit::{RateLimitSettings, RateLimiter, MAX_WAIT, RESET_MARGIN};
use super::Api;
use crate::support::clock::now_system;
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

fn now_secs() -> i64 {
    crate::support::clock::now_unix()
}

/// An HTTP date (IMF-fixdate) between the years 1 and 9999.
fn http_date() -> impl Strategy<Value = String> {
    (-62_135_596_800i64..=253_402_300_799).prop_map(|t| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
            .unwrap_or_default()
    })
}

/// A header value as a hostile answer might write it.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => text().prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn text() -> impl Strategy<Value = String> {
    let now = now_secs();
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<i128>().prop_map(|n| n.to_string()),
        // Unix times near now (resets in the past and the next hours).
        (-7200i64..=7200).prop_map(move |d| (now + d).to_string()),
        (0u64..=7200).prop_map(|n| n.to_string()),
        "[0-9]{20,60}",
        "-[0-9]{1,40}",
        " ?[+-]?[0-9]{0,5}(\\.[0-9]{1,3})? ?",
        http_date(),
        Just(String::new()),
        any::<String>(),
    ]
}

const NAMES: [&str; 5] = [
    "retry-after",
    "x-ratelimit-reset",
    "x-ratelimit-remaining",
    "x-burstlimit-remaining",
    "x-ratelimit-limit",
];

/// Some of the rate-limit headers, each with a random value (values `HeaderValue` refuses,
/// such as a line break, cannot arrive on the wire and are left out).
fn headers() -> impl Strategy<Value = HeaderMap> {
    proptest::collection::vec((0..NAMES.len(), value()), 0..6).prop_map(|pairs| {
        let mut h = HeaderMap::new();
        for (i, v) in pairs {
            if let Ok(v) = HeaderValue::from_bytes(&v) {
                h.append(HeaderName::from_static(NAMES[i]), v);
            }
        }
        h
    })
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![Just(429u16), Just(200), Just(503), 100u16..=599]
}

fn api() -> impl Strategy<Value = Api> {
    prop_oneof![Just(Api::Monitor), Just(Api::Admin), Just(Api::ESignature)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_limiter_survives_any_answer_and_waits_at_most_its_clamp(
        answers in proptest::collection::vec((status(), headers()), 1..4),
        api in api(),
        max_wait_s in prop_oneof![Just(3600u64), 1u64..=3600],
        reserve in 0u32..=200,
    ) {
        let max_wait = Duration::from_secs(max_wait_s);
        let settings = RateLimitSettings { reserve, max_wait, ..Default::default() };
        let limit = max_wait + RESET_MARGIN;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let l = RateLimiter::new("prop", settings);
            for (status, headers) in &answers {
                l.observe(api, *status, headers);
                if let Some(until) = l.blocked_until() {
                    let wait = until.duration_since(now_system()).unwrap_or_default();
                    // The clamp, plus the time this test itself takes (real clock).
                    prop_assert!(wait <= limit + Duration::from_secs(1), "{wait:?} > {limit:?}");
                }
            }
            let started = tokio::time::Instant::now();
            let acquired = tokio::time::timeout(limit + Duration::from_secs(1), l.acquire(api)).await;
            prop_assert!(acquired.is_ok(), "acquire did not return within the clamp");
            prop_assert!(started.elapsed() <= limit);
            Ok(())
        })?;
    }

    #[test]
    fn the_default_clamp_is_an_hour(headers in headers(), status in status()) {
        let l = RateLimiter::new("prop", RateLimitSettings::default());
        l.observe(Api::Monitor, status, &headers);
        if let Some(until) = l.blocked_until() {
            let wait = until.duration_since(now_system()).unwrap_or_default();
            prop_assert!(wait <= MAX_WAIT + RESET_MARGIN);
        }
    }

    #[test]
    fn any_expires_in_gives_a_token_usable_now_and_never_beyond_a_day(
        expires_in in prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| if f.is_finite() { f.to_string() } else { "null".into() }),
            "[1-9][0-9]{18,40}",
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("null".to_string()),
        ],
        now in prop_oneof![any::<i64>(), Just(now_secs())],
    ) {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default, deserialize_with = "super::auth::lifetime::lenient_seconds")]
            expires_in: Option<i64>,
        }
        let body = format!(r#"{{"expires_in":{expires_in}}}"#);
        let answer: Answer = serde_json::from_str(&body).unwrap();
        let (life, _) = lifetime::lifetime(answer.expires_in);
        prop_assert!((lifetime::MIN_LIFETIME..=lifetime::MAX_LIFETIME).contains(&life));
        let expires_at = lifetime::expires_at(now, life);
        // Usable right after the grant (unless the clock sits at the very end of time)…
        if now < i64::MAX - lifetime::MAX_LIFETIME {
            prop_assert!(lifetime::usable(now, expires_at, now));
        }
        // …and never once it has expired.
        prop_assert!(!lifetime::usable(now, expires_at, expires_at));
    }

    #[test]
    fn any_stored_token_row_is_judged_without_panic(
        obtained_at in any::<i64>(),
        expires_at in any::<i64>(),
        now in prop_oneof![any::<i64>(), Just(now_secs())],
    ) {
        if lifetime::usable(obtained_at, expires_at, now) {
            // Only rows a grant could have written are used, and only before they expire.
            prop_assert!(expires_at > now);
            prop_assert!(expires_at - now <= lifetime::MAX_LIFETIME);
            prop_assert!(expires_at - obtained_at <= lifetime::MAX_LIFETIME);
        }
    }
}

#[test]
fn the_numbers_of_the_issue_are_clamped() {
    let l = RateLimiter::new("issue", RateLimitSettings::default());
    let mut h = HeaderMap::new();
    h.insert(
        "retry-after",
        HeaderValue::from_static("18446744073709551615"),
    );
    l.observe(Api::Monitor, 429, &h);
    let wait = l
        .blocked_until()
        .expect("blocked")
        .duration_since(now_system())
        .unwrap_or_default();
    assert!(
        wait <= MAX_WAIT && wait >= MAX_WAIT - Duration::from_secs(5),
        "{wait:?}"
    );

    let l = RateLimiter::new("issue", RateLimitSettings::default());
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from_static("9223372036854775807"),
    );
    l.observe(Api::Monitor, 200, &h);
    let wait = l
        .blocked_until()
        .expect("blocked")
        .duration_since(now_system())
        .unwrap_or_default();
    assert!(wait <= MAX_WAIT + RESET_MARGIN, "{wait:?}");
    assert!(wait >= MAX_WAIT - Duration::from_secs(5), "{wait:?}");
}
