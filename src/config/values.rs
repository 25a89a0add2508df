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
            StartFrom::Lookback(d) => now_unix - d.as_secs() as i64,
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
