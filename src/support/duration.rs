//! The duration type configuration is written in (`"90s"`, `"5m"`): here, below every layer,
//! because the client settings and the sinks' configurations use it as much as `config` does.

use serde::Deserialize;
use std::time::Duration;

/// A duration written as a humantime string ("90s", "5m").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim())
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {s:?} ({e}); write it like \"90s\", \"5m\" or \"24h\""
                ))
            })
    }
}
