//! Exponential backoff with full jitter, for every retry loop (Docusign calls, HTTP sinks).

use rand::Rng;
use std::time::Duration;

/// Backoff between attempts: attempt `n` (from 0) waits a random time between 0 and
/// `min(max, base · 2^n)` ("full jitter"), so retries of many streams do not line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max: max.max(base),
        }
    }

    /// The upper bound of the wait before retry `attempt` (0-based).
    pub fn cap(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max)
    }

    /// A random wait in `0..=cap(attempt)` (a cap beyond `u64::MAX` milliseconds, which only an
    /// absurd configuration gives, is drawn from `0..=u64::MAX` ms).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ms = u64::try_from(self.cap(attempt).as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::thread_rng().gen_range(0..=ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_and_the_bound_grows_to_the_max() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        assert_eq!(b.cap(0), Duration::from_millis(100));
        assert_eq!(b.cap(3), Duration::from_millis(800));
        assert_eq!(b.cap(5), Duration::from_secs(2));
        assert_eq!(b.cap(40), Duration::from_secs(2), "no overflow");
        for attempt in 0..20 {
            assert!(b.delay(attempt) <= b.cap(attempt));
        }
        let zero = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(zero.delay(3), Duration::ZERO);
        // Any durations, without overflow.
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.cap(u32::MAX), Duration::MAX);
        assert!(huge.delay(3) <= Duration::MAX);
        // A max below the base is raised to it.
        assert_eq!(
            Backoff::new(Duration::from_secs(5), Duration::from_secs(1)).cap(0),
            Duration::from_secs(5)
        );
    }
}
