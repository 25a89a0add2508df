//! The scheduler's tests: start-up spread, jitter, bounded waits.

use super::*;

#[test]
fn jitter_stays_within_ten_percent_and_thirty_seconds() {
    for _ in 0..200 {
        let d = jittered(Duration::from_secs(60));
        assert!(
            d >= Duration::from_secs(54) && d <= Duration::from_secs(66),
            "{d:?}"
        );
        let d = jittered(Duration::from_secs(3600));
        assert!(
            d >= Duration::from_secs(3570) && d <= Duration::from_secs(3630),
            "{d:?}"
        );
    }
    assert_eq!(jittered(Duration::from_millis(5)), Duration::from_millis(5));
    // Any interval, however absurd, without overflow.
    for huge in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        let d = jittered(huge);
        assert!(d >= huge - Duration::from_secs(30), "{d:?}");
    }
    assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
}

#[test]
fn start_delays_are_stable_bounded_and_spread_over_the_first_minute() {
    let et = EventType::CustomerEvents;
    let minute = Duration::from_secs(60);
    assert_eq!(
        start_delay("acme", et, minute),
        start_delay("acme", et, minute)
    );
    let delays: Vec<Duration> = (0..1000)
        .map(|i| start_delay(&format!("account-{i}"), et, Duration::from_secs(300)))
        .collect();
    assert!(delays.iter().all(|d| *d < minute), "at most a minute");
    // Spread: every 6-second slice of the minute holds some of them, none most of them.
    let mut slices = [0usize; 10];
    for d in &delays {
        slices[(d.as_secs() / 6) as usize] += 1;
    }
    assert!(slices.iter().all(|n| (40..=160).contains(n)), "{slices:?}");
    assert!(start_delay("acme", et, Duration::from_secs(2)) < Duration::from_secs(2));
    assert_eq!(start_delay("acme", et, Duration::ZERO), Duration::ZERO);
    assert!(start_delay("acme", et, Duration::MAX) < minute);
}

#[tokio::test(start_paused = true)]
async fn the_first_wait_lasts_its_delay_unless_a_fetch_or_shutdown_ends_it() {
    let (trigger, shutdown) = Shutdown::new();
    let wake = Notify::new();
    let t0 = Instant::now();
    assert!(first_wait(Duration::from_secs(42), &wake, &shutdown).await);
    assert_eq!(t0.elapsed(), Duration::from_secs(42));
    wake.notify_one();
    let t0 = Instant::now();
    assert!(first_wait(Duration::from_secs(59), &wake, &shutdown).await);
    assert!(
        t0.elapsed() < Duration::from_millis(1),
        "a fetch starts it at once"
    );
    trigger.fire();
    assert!(!first_wait(Duration::from_secs(59), &wake, &shutdown).await);
}
