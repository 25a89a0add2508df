//! `state_url` and `[cluster]`: several replicas sharing one PostgreSQL database.

use super::HumanDuration;
use serde::Deserialize;
use std::time::Duration;

/// `[cluster]`: how this replica takes part (only with `state_url`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This replica's name, unique among live replicas (default: the host name).
    #[serde(default)]
    pub replica: Option<String>,
    /// An integration whose holder stops renewing its lease is taken over after this.
    #[serde(default = "default_lease")]
    pub lease: HumanDuration,
    /// Connections to the database this replica keeps.
    #[serde(default = "default_connections")]
    pub connections: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            replica: None,
            lease: default_lease(),
            connections: default_connections(),
        }
    }
}

fn default_lease() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

/// Connections per replica when `[cluster] connections` is not set.
pub const DEFAULT_CONNECTIONS: usize = 4;

fn default_connections() -> usize {
    DEFAULT_CONNECTIONS
}

/// The shortest and longest lease accepted.
pub const LEASE_RANGE: (Duration, Duration) = (Duration::from_secs(3), Duration::from_secs(3600));

impl ClusterConfig {
    /// This replica's name: the configured one, else the host name.
    pub fn replica_name(&self) -> String {
        self.replica
            .clone()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(host_name)
    }
}

/// The host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else "replica").
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "replica".into())
}
