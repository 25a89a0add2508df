//! Run history: one row per collection cycle (kept per stream, the oldest pruned), and what
//! `state` and the API show per stream.

use crate::record::EventType;

/// One finished or running collection cycle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub integration: String,
    pub event_type: EventType,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub events: u64,
    pub pages: u64,
    pub error: Option<String>,
}

/// What `state` shows for one (integration, event type).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreamState {
    pub integration: String,
    pub event_type: EventType,
    pub cursor: Option<String>,
    pub cursor_updated_at: Option<i64>,
    pub last_run: Option<RunRecord>,
    pub last_success_at: Option<i64>,
    /// Audit users remembered for the overlap (audit-user streams, in the full view only).
    #[serde(skip)]
    pub remembered_users: Option<u64>,
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
