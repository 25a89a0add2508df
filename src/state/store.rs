//! The interface both state backends implement: SQLite (one host) and PostgreSQL (replicas).
//!
//! [`State`](super::State) is the only caller. It keeps what is the same for both — sealing the
//! settings of API-created integrations, the lease book that fences writes — and hands each
//! backend plain rows. A backend never decides about leases itself: a fenced write carries the
//! epoch the caller holds, and the backend refuses it ([`StateError::Fenced`]) when the database
//! says another epoch now holds the integration.

use super::{CachedToken, RunRecord, StateError, StreamState};
use crate::record::EventType;

/// The epoch of the lease a write is made under; `None` on a single host (no leases).
pub type Fence = Option<i64>;

/// One API-managed integration as stored (settings possibly sealed).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredIntegration {
    pub name: String,
    pub data: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A state backend. Every method is a short blocking call that commits before it returns.
pub trait Store: Send + Sync {
    /// The saved cursor of one stream.
    fn cursor(&self, integration: &str, et: EventType) -> Result<Option<String>, StateError>;
    /// Save (upsert) the cursor of one stream under `fence`.
    fn save_cursor(
        &self,
        integration: &str,
        et: EventType,
        cursor: &str,
        fence: Fence,
    ) -> Result<(), StateError>;
    fn token(&self, integration: &str) -> Result<Option<CachedToken>, StateError>;
    /// Cache (replace) the token of an integration under `fence`.
    fn save_token(
        &self,
        integration: &str,
        token: &CachedToken,
        fence: Fence,
    ) -> Result<(), StateError>;
    /// Forget the cached token; `true` when there was one.
    fn clear_token(&self, integration: &str) -> Result<bool, StateError>;
    fn get_value(&self, integration: &str, key: &str) -> Result<Option<String>, StateError>;
    fn set_value(
        &self,
        integration: &str,
        key: &str,
        value: &str,
        fence: Fence,
    ) -> Result<(), StateError>;
    /// Remove a value under `fence`; `true` when there was one.
    fn delete_value(&self, integration: &str, key: &str, fence: Fence) -> Result<bool, StateError>;

    /// Record the start of a run (pruning the stream's oldest beyond [`super::RUNS_KEPT`]).
    fn run_started(
        &self,
        integration: &str,
        et: EventType,
        started_at: i64,
    ) -> Result<i64, StateError>;
    fn run_finished(
        &self,
        run_id: i64,
        ended_at: i64,
        events: u64,
        pages: u64,
        error: Option<&str>,
    ) -> Result<(), StateError>;
    fn recent_runs(
        &self,
        integration: &str,
        et: EventType,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError>;
    fn streams(&self, integration: Option<&str>) -> Result<Vec<StreamState>, StateError>;

    /// Every API-managed integration, by name, as stored.
    fn managed(&self) -> Result<Vec<StoredIntegration>, StateError>;
    fn managed_one(&self, name: &str) -> Result<Option<StoredIntegration>, StateError>;
    /// Create or replace one (its `created_at` kept on replace) at unix time `at`.
    fn save_managed(&self, name: &str, data: &str, at: i64) -> Result<(), StateError>;
    fn delete_managed(&self, name: &str) -> Result<bool, StateError>;
    /// Replace the stored settings of existing rows, each `(name, old, new)` only while it still
    /// holds `old` (a change made meanwhile wins), then make sure no old copy stays in a log the
    /// backend keeps.
    fn reseal(&self, rows: &[(String, String, String)]) -> Result<(), StateError>;

    /// The stable integer id of every integration name seen so far, after giving each of
    /// `assign` that has none the next id (ids are never reused, and never removed).
    fn integration_ids(&self, assign: &[String]) -> Result<Vec<(String, i64)>, StateError>;

    /// Whether the database answers now.
    fn ping(&self) -> Result<(), StateError>;
}
