//! The integration context: SQLite (WAL, mode 0600, versioned migrations) holding cursors,
//! the token cache, run history and small per-integration values.
//! SKELETON: implemented by the state/sinks work.

use crate::record::EventType;
use crate::secret::Secret;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {message}")]
    Open { path: String, message: String },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// A cached access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub access_token: Secret,
    /// Unix seconds.
    pub expires_at: i64,
    /// Space-separated scopes the token was granted for.
    pub scopes: String,
    /// Identifies the settings the token was granted under (key id, user, OAuth host, scopes);
    /// a token whose fingerprint differs from the current one is not reused.
    pub fingerprint: String,
}

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
}

/// Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct State {
    _private: (),
}

impl State {
    /// Open or create the database at `path` (creating parent directories, mode 0600), WAL,
    /// migrated to the current schema version.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let _ = path;
        todo!()
    }
    pub fn open_in_memory() -> Result<State, StateError> {
        todo!()
    }
    pub fn cursor(&self, integration: &str, et: EventType) -> Result<Option<String>, StateError> {
        let _ = (integration, et);
        todo!()
    }
    pub fn save_cursor(
        &self,
        integration: &str,
        et: EventType,
        cursor: &str,
    ) -> Result<(), StateError> {
        let _ = (integration, et, cursor);
        todo!()
    }
    pub fn token(&self, integration: &str) -> Result<Option<CachedToken>, StateError> {
        let _ = integration;
        todo!()
    }
    pub fn save_token(&self, integration: &str, token: &CachedToken) -> Result<(), StateError> {
        let _ = (integration, token);
        todo!()
    }
    pub fn clear_token(&self, integration: &str) -> Result<bool, StateError> {
        let _ = integration;
        todo!()
    }
    /// Unix seconds the cached token expires at (never the token itself).
    pub fn token_expiry(&self, integration: &str) -> Result<Option<i64>, StateError> {
        let _ = integration;
        todo!()
    }
    pub fn run_started(
        &self,
        integration: &str,
        et: EventType,
        started_at: i64,
    ) -> Result<i64, StateError> {
        let _ = (integration, et, started_at);
        todo!()
    }
    pub fn run_finished(
        &self,
        run_id: i64,
        ended_at: i64,
        events: u64,
        pages: u64,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        let _ = (run_id, ended_at, events, pages, error);
        todo!()
    }
    pub fn recent_runs(
        &self,
        integration: &str,
        et: EventType,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        let _ = (integration, et, limit);
        todo!()
    }
    pub fn streams(&self, integration: Option<&str>) -> Result<Vec<StreamState>, StateError> {
        let _ = integration;
        todo!()
    }
    pub fn get_value(&self, integration: &str, key: &str) -> Result<Option<String>, StateError> {
        let _ = (integration, key);
        todo!()
    }
    pub fn set_value(&self, integration: &str, key: &str, value: &str) -> Result<(), StateError> {
        let _ = (integration, key, value);
        todo!()
    }
}
