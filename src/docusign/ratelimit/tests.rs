//! The limiter's unit tests.
use super::*;
use reqwest::header::{HeaderName, HeaderValue};
use std::time::UNIX_EPOCH;

fn headers(pairs: &[(&str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn epoch_in(secs: u64) -> u64 {
    now_system().duration_since(UNIX_EPOCH).unwrap().as_secs() + secs
}

#[test]
fn a_429_blocks_until_the_reset_header() {
    let l = RateLimiter::new("t", RateLimitSettings::default());
    assert!(l.blocked_until().is_none());
    l.observe(
        Api::Monitor,
        429,
        &headers(&[("x-ratelimit-reset", epoch_in(30).to_string())]),
    );
    let until = l.blocked_until().expect("blocked");
    let wait = until.duration_since(now_system()).unwrap();
    assert!(
        wait > Duration::from_secs(28) && wait <= Duration::from_secs(32),
        "{wait:?}"
    );
}

#[test]
fn a_429_with_a_reset_already_past_waits_seconds_not_a_minute() {
    let past = epoch_in(0) - 1;
    for _ in 0..20 {
        let l = RateLimiter::new("t", RateLimitSettings::default());
        l.observe(
            Api::Monitor,
            429,
            &headers(&[("x-ratelimit-reset", past.to_string())]),
        );
        let wait = l
            .blocked_until()
            .expect("blocked")
            .duration_since(now_system())
            .unwrap_or_default();
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(5),
            "{wait:?}"
        );
    }
}

#[test]
fn retry_after_wins_over_reset() {
    let l = RateLimiter::new("t", RateLimitSettings::default());
    l.observe(
        Api::Admin,
        429,
        &headers(&[
            ("retry-after", "5".into()),
            ("x-ratelimit-reset", epoch_in(600).to_string()),
        ]),
    );
    let wait = l
        .blocked_until()
        .unwrap()
        .duration_since(now_system())
        .unwrap();
    assert!(wait <= Duration::from_secs(5), "{wait:?}");
}

#[test]
fn reaching_the_reserve_blocks_before_any_429() {
    let s = RateLimitSettings {
        reserve: 10,
        ..Default::default()
    };
    let l = RateLimiter::new("t", s);
    l.observe(
        Api::Monitor,
        200,
        &headers(&[
            ("x-ratelimit-remaining", "11".into()),
            ("x-ratelimit-reset", epoch_in(60).to_string()),
        ]),
    );
    assert!(l.blocked_until().is_none());
    l.observe(
        Api::Monitor,
        200,
        &headers(&[
            ("x-ratelimit-remaining", "10".into()),
            ("x-ratelimit-reset", epoch_in(60).to_string()),
        ]),
    );
    assert!(l.blocked_until().is_some());
}

#[tokio::test(start_paused = true)]
async fn min_spacing_spaces_calls_to_one_api() {
    let s = RateLimitSettings {
        min_spacing: Duration::from_secs(2),
        ..Default::default()
    };
    let l = RateLimiter::new("t", s);
    let t0 = tokio::time::Instant::now();
    l.acquire(Api::Monitor).await;
    l.acquire(Api::Admin).await;
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "another API is not held back"
    );
    l.acquire(Api::Monitor).await;
    assert!(
        t0.elapsed() >= Duration::from_secs(2),
        "second monitor call waited {:?}",
        t0.elapsed()
    );
}

// Real time: `governor` waits on its own clock, not tokio's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_call_is_not_starved_by_an_audit_user_load() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    // Ten calls a second; eight audit-user callers that always want more.
    let s = RateLimitSettings {
        per_hour: 36_000,
        burst: 1,
        ..Default::default()
    };
    let l = std::sync::Arc::new(RateLimiter::new("t", s));
    let audit_calls = std::sync::Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for i in 0..8 {
        let (l, n) = (l.clone(), audit_calls.clone());
        let api = if i == 0 { Api::Admin } else { Api::ESignature };
        load.push(tokio::spawn(async move {
            loop {
                l.acquire(api).await;
                n.fetch_add(1, SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = audit_calls.load(SeqCst);
    assert!(
        before >= 6,
        "audit users use the whole budget alone: {before}"
    );
    // Monitor calls one after the other: each waits for about two cells at most, where the
    // eight audit callers ahead of it would cost eight.
    for _ in 0..5 {
        let t0 = std::time::Instant::now();
        l.acquire(Api::Monitor).await;
        assert!(
            t0.elapsed() <= Duration::from_millis(450),
            "{:?}",
            t0.elapsed()
        );
    }
    // And the audit-user load goes on once the Monitor stream is idle.
    let during = audit_calls.load(SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = audit_calls.load(SeqCst);
    assert!(after - during >= 6, "{during} -> {after}");
    load.iter().for_each(|t| t.abort());
}

fn wait_of(l: &RateLimiter) -> Option<Duration> {
    l.blocked_until()
        .map(|u| u.duration_since(now_system()).unwrap_or_default())
}

#[test]
fn waits_from_an_answer_are_clamped_to_max_wait() {
    let s = RateLimitSettings {
        max_wait: Duration::from_secs(5),
        ..Default::default()
    };
    for (status, pairs) in [
        (
            429,
            vec![("retry-after", "18446744073709551615".to_string())],
        ),
        (
            429,
            vec![("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT".into())],
        ),
        (429, vec![("x-ratelimit-reset", i64::MAX.to_string())]),
        (429, vec![("x-ratelimit-reset", "9".repeat(60))]),
        (
            200,
            vec![
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", "9223372036854775807".into()),
            ],
        ),
    ] {
        let l = RateLimiter::new("t", s);
        l.observe(Api::Monitor, status, &headers(&pairs));
        let wait = wait_of(&l).expect("blocked");
        assert!(
            wait <= Duration::from_secs(5) + RESET_MARGIN && wait > Duration::from_secs(4),
            "{pairs:?}: {wait:?}"
        );
    }
    // A max_wait above the hour is lowered to it.
    let l = RateLimiter::new(
        "t",
        RateLimitSettings {
            max_wait: Duration::MAX,
            ..Default::default()
        },
    );
    l.observe(
        Api::Monitor,
        429,
        &headers(&[("retry-after", u64::MAX.to_string())]),
    );
    assert!(wait_of(&l).unwrap() <= MAX_WAIT);
}

#[test]
fn remaining_counts_of_any_size_or_shape_do_not_panic() {
    let reset = epoch_in(60).to_string();
    for (remaining, blocks) in [
        ("-5", true),
        ("-99999999999999999999999", true),
        ("99999999999999999999999", false),
        ("lots", false),
        ("", false),
    ] {
        let l = RateLimiter::new("t", RateLimitSettings::default());
        l.observe(
            Api::Admin,
            200,
            &headers(&[
                ("x-ratelimit-remaining", remaining.into()),
                ("x-ratelimit-reset", reset.clone()),
            ]),
        );
        assert_eq!(l.blocked_until().is_some(), blocks, "{remaining:?}");
    }
    // A negative Retry-After is not a wait: the reset decides.
    let l = RateLimiter::new("t", RateLimitSettings::default());
    l.observe(
        Api::Admin,
        429,
        &headers(&[("retry-after", "-1".into()), ("x-ratelimit-reset", reset)]),
    );
    let wait = wait_of(&l).unwrap();
    assert!(wait > Duration::from_secs(55), "{wait:?}");
}

#[tokio::test(start_paused = true)]
async fn an_absurd_min_spacing_does_not_overflow() {
    let l = RateLimiter::new(
        "t",
        RateLimitSettings {
            min_spacing: Duration::MAX,
            ..Default::default()
        },
    );
    l.acquire(Api::Monitor).await;
    let second = tokio::time::timeout(Duration::from_secs(3600), l.acquire(Api::Monitor)).await;
    assert!(
        second.is_err(),
        "the second call waits (and nothing panics)"
    );
}
