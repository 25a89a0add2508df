//! Value types the configuration is written in: durations and start points.

use serde::Deserialize;
use std::time::Duration;

pub use crate::support::duration::HumanDuration;

/// Where the first run starts when there is no cursor yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Now minus this much.
    Lookback(Duration),
    /// This moment (Unix seconds).
    At(i64),
}

impl StartFrom {
    /// The start as Unix seconds, given the current time.
    pub fn resolve(self, now_unix: i64) -> i64 {
        match self {
            // Saturating: a lookback longer than the epoch is the epoch (validation bounds it
            // to 3650 days; a preview's `--from` is not validated).
            StartFrom::Lookback(d) => {
                now_unix.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            }
            StartFrom::At(t) => t,
        }
    }
}

impl<'de> Deserialize<'de> for StartFrom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let s = s.trim();
        if let Ok(d) = humantime::parse_duration(s) {
            return Ok(StartFrom::Lookback(d));
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Ok(StartFrom::At(t.timestamp()));
        }
        Err(serde::de::Error::custom(format!(
            "invalid start_from {s:?}: write a lookback (\"15m\", \"24h\", \"7d\") or an RFC 3339 time (\"2024-01-01T00:00:00Z\")"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookback_longer_than_time_saturates() {
        assert_eq!(
            StartFrom::Lookback(Duration::from_secs(60)).resolve(1_000),
            940
        );
        assert_eq!(
            StartFrom::Lookback(Duration::from_secs(u64::MAX)).resolve(1_000),
            1_000 - i64::MAX
        );
        assert_eq!(StartFrom::At(5).resolve(1_000), 5);
    }
}
