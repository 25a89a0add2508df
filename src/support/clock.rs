//! The one wall clock. Everything that stamps or compares times of day (token expiry,
//! checkpoints, run history, `_time` fallbacks, Docusign's rate-limit reset times) reads it
//! here, so a test or a future simulated clock has one place to look. Durations measured
//! inside the process use `Instant`, a monotonic clock, and need not come here.
//! `tests/architecture.rs` fails when another file reads the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as the system's wall clock says.
pub fn now_system() -> SystemTime {
    SystemTime::now()
}

/// Now, in Unix seconds (0 for a clock set before 1970).
pub fn now_unix() -> i64 {
    now_system()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2024() {
        assert!(super::now_unix() > 1_704_067_200);
    }

    #[test]
    fn both_forms_tell_the_same_time() {
        let unix = super::now_unix();
        let system = super::now_system()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((system - unix).abs() <= 1, "{system} vs {unix}");
    }
}
