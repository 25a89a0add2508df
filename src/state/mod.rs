//! The integration context: SQLite (WAL, mode 0600, versioned migrations) holding cursors,
//! the token cache, run history and small per-integration values.

use crate::record::EventType;
use crate::support::clock::now_unix;
use crate::support::secret::Secret;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

mod managed;
mod runs;
pub use runs::{RunRecord, StreamState};
mod open;
mod scratch;
pub use scratch::Scratch;
#[cfg(test)]
mod tests;

/// Runs kept per (integration, event type); older ones are pruned when a run starts.
pub const RUNS_KEPT: usize = 200;

/// Errors from the state database. Messages name the database and never contain a token.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {message}")]
    Open { path: String, message: String },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database: integration {name}: {message}")]
    Sealed { name: String, message: String },
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
    /// Unix seconds the token was granted at (its lifetime sets the renewal margin).
    pub obtained_at: i64,
}

/// Holds the collection lock of a state database until dropped.
#[derive(Debug)]
pub struct CollectionLock {
    _file: std::fs::File,
}

/// Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct State {
    conn: Arc<Mutex<Connection>>,
    path: Arc<str>,
    /// Seals the settings of API-created integrations (their private keys) when set.
    seal: Arc<std::sync::OnceLock<crate::support::seal::SealKey>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("path", &self.path).finish()
    }
}

/// The busy timeout: another process holding a write lock is waited for this long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl State {
    /// Open or create the database at `path` (creating parent directories, mode 0600), WAL,
    /// migrated to the current schema version.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let conn = open::open_file(path)?;
        Ok(State {
            conn: Arc::new(Mutex::new(conn)),
            path: path.display().to_string().into(),
            seal: Default::default(),
        })
    }

    /// A private in-memory database (tests, `get-events`, `demo`).
    pub fn open_in_memory() -> Result<State, StateError> {
        let conn = open::open_memory()?;
        Ok(State {
            conn: Arc::new(Mutex::new(conn)),
            path: ":memory:".into(),
            seal: Default::default(),
        })
    }

    /// The database path as given to [`State::open`] (`:memory:` for an in-memory one).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Take the collection lock of the database at `path` (`<path>.lock`): one collecting process
    /// per state, so two processes never deliver the same pages. Held until the guard drops.
    pub fn lock_collection(path: &Path) -> Result<CollectionLock, StateError> {
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = std::path::PathBuf::from(lock_path);
        let err = |message: String| StateError::Open {
            path: lock_path.display().to_string(),
            message,
        };
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create its directory: {e}")))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| err(format!("cannot open the lock file: {e}")))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(err(format!(
                    "another docusign-collector process (pid {}) is collecting with this state database; stop it first, or give this one its own state_path",
                    holder.trim()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(format!("cannot lock: {e}"))),
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(CollectionLock { _file: file })
    }

    /// The connection; a mutex poisoned by a panicking thread is recovered (SQLite keeps
    /// its own consistency, and every method leaves no transaction open).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The saved cursor of one stream.
    pub fn cursor(&self, integration: &str, et: EventType) -> Result<Option<String>, StateError> {
        let conn = self.conn();
        let v = conn
            .query_row(
                "SELECT cursor FROM cursors WHERE integration = ?1 AND event_type = ?2",
                params![integration, et.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v)
    }

    /// Save (upsert) the cursor of one stream; committed and durable when this returns.
    pub fn save_cursor(
        &self,
        integration: &str,
        et: EventType,
        cursor: &str,
    ) -> Result<(), StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO cursors (integration, event_type, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (integration, event_type)
             DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            params![integration, et.as_str(), cursor, now_unix()],
        )?;
        Ok(())
    }

    /// The cached token of an integration, if any (expired or not: the caller decides).
    pub fn token(&self, integration: &str) -> Result<Option<CachedToken>, StateError> {
        let conn = self.conn();
        let v = conn
            .query_row(
                "SELECT access_token, expires_at, scopes, fingerprint, obtained_at FROM tokens WHERE integration = ?1",
                params![integration],
                |r| {
                    Ok(CachedToken {
                        access_token: Secret::new(r.get::<_, String>(0)?),
                        expires_at: r.get(1)?,
                        scopes: r.get(2)?,
                        fingerprint: r.get(3)?,
                        obtained_at: r.get(4)?,
                    })
                },
            )
            .optional()?;
        Ok(v)
    }

    /// Cache (replace) the token of an integration.
    pub fn save_token(&self, integration: &str, token: &CachedToken) -> Result<(), StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO tokens (integration, access_token, expires_at, scopes, fingerprint, obtained_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (integration) DO UPDATE SET access_token = excluded.access_token,
               expires_at = excluded.expires_at, scopes = excluded.scopes,
               fingerprint = excluded.fingerprint, obtained_at = excluded.obtained_at",
            params![
                integration,
                token.access_token.expose(),
                token.expires_at,
                token.scopes,
                token.fingerprint,
                token.obtained_at
            ],
        )?;
        Ok(())
    }

    /// Forget the cached token; `true` when there was one.
    pub fn clear_token(&self, integration: &str) -> Result<bool, StateError> {
        let conn = self.conn();
        let n = conn.execute(
            "DELETE FROM tokens WHERE integration = ?1",
            params![integration],
        )?;
        Ok(n > 0)
    }

    /// Unix seconds the cached token expires at (never the token itself).
    pub fn token_expiry(&self, integration: &str) -> Result<Option<i64>, StateError> {
        let conn = self.conn();
        let v = conn
            .query_row(
                "SELECT expires_at FROM tokens WHERE integration = ?1",
                params![integration],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v)
    }

    /// A small per-integration value (e.g. a high-water mark), if set.
    pub fn get_value(&self, integration: &str, key: &str) -> Result<Option<String>, StateError> {
        let conn = self.conn();
        let v = conn
            .query_row(
                "SELECT value FROM kv WHERE integration = ?1 AND key = ?2",
                params![integration, key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v)
    }

    /// Set (upsert) a small per-integration value.
    pub fn set_value(&self, integration: &str, key: &str, value: &str) -> Result<(), StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO kv (integration, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (integration, key)
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![integration, key, value, now_unix()],
        )?;
        Ok(())
    }

    /// Remove a per-integration value; true when there was one.
    pub fn delete_value(&self, integration: &str, key: &str) -> Result<bool, StateError> {
        let conn = self.conn();
        let n = conn.execute(
            "DELETE FROM kv WHERE integration = ?1 AND key = ?2",
            params![integration, key],
        )?;
        Ok(n > 0)
    }
}
