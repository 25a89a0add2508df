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
mod open;
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
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("path", &self.path).finish()
    }
}

/// The busy timeout: another process holding a write lock is waited for this long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const RUN_COLUMNS: &str = "id, integration, event_type, started_at, ended_at, events, pages, error";

/// Reads a `runs` row selected with [`RUN_COLUMNS`]; `None` for an unknown event type.
fn run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<RunRecord>> {
    let et: String = row.get(2)?;
    let Some(event_type) = EventType::parse(&et) else {
        return Ok(None);
    };
    Ok(Some(RunRecord {
        id: row.get(0)?,
        integration: row.get(1)?,
        event_type,
        started_at: row.get(3)?,
        ended_at: row.get(4)?,
        events: to_u64(row.get(5)?),
        pages: to_u64(row.get(6)?),
        error: row.get(7)?,
    }))
}

impl State {
    /// Open or create the database at `path` (creating parent directories, mode 0600), WAL,
    /// migrated to the current schema version.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let conn = open::open_file(path)?;
        Ok(State {
            conn: Arc::new(Mutex::new(conn)),
            path: path.display().to_string().into(),
        })
    }

    /// A private in-memory database (tests, `get-events`, `demo`).
    pub fn open_in_memory() -> Result<State, StateError> {
        let conn = open::open_memory()?;
        Ok(State {
            conn: Arc::new(Mutex::new(conn)),
            path: ":memory:".into(),
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

    /// Record the start of a run and return its id; keeps only the last [`RUNS_KEPT`] runs
    /// of the stream.
    pub fn run_started(
        &self,
        integration: &str,
        et: EventType,
        started_at: i64,
    ) -> Result<i64, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO runs (integration, event_type, started_at, events, pages) VALUES (?1, ?2, ?3, 0, 0)",
            params![integration, et.as_str(), started_at],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "DELETE FROM runs WHERE integration = ?1 AND event_type = ?2 AND id NOT IN
               (SELECT id FROM runs WHERE integration = ?1 AND event_type = ?2 ORDER BY id DESC LIMIT ?3)",
            params![integration, et.as_str(), to_i64(RUNS_KEPT as u64)],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Record the end of a run (`error` is `None` for a successful run). An id that no
    /// longer exists (pruned) is ignored.
    pub fn run_finished(
        &self,
        run_id: i64,
        ended_at: i64,
        events: u64,
        pages: u64,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE runs SET ended_at = ?2, events = ?3, pages = ?4, error = ?5 WHERE id = ?1",
            params![run_id, ended_at, to_i64(events), to_i64(pages), error],
        )?;
        if n == 0 {
            tracing::debug!(run_id, "run_finished for a run that is no longer recorded");
        }
        Ok(())
    }

    /// The latest runs of a stream, newest first.
    pub fn recent_runs(
        &self,
        integration: &str,
        et: EventType,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE integration = ?1 AND event_type = ?2
             ORDER BY id DESC LIMIT ?3"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(
            params![integration, et.as_str(), to_i64(limit as u64)],
            run_from_row,
        )?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(run) = r? {
                out.push(run);
            }
        }
        Ok(out)
    }

    /// One entry per (integration, event type) with a cursor or a run, sorted by integration
    /// then event type; `Some(name)` restricts to one integration.
    pub fn streams(&self, integration: Option<&str>) -> Result<Vec<StreamState>, StateError> {
        let conn = self.conn();
        let mut keys: Vec<(String, EventType)> = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT integration, event_type FROM cursors WHERE ?1 IS NULL OR integration = ?1
                 UNION SELECT integration, event_type FROM runs WHERE ?1 IS NULL OR integration = ?1",
            )?;
            let rows = stmt.query_map(params![integration], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            for r in rows {
                let (name, et) = r?;
                if let Some(et) = EventType::parse(&et) {
                    keys.push((name, et));
                }
            }
        }
        keys.sort();
        keys.dedup();
        let mut out = Vec::with_capacity(keys.len());
        let last_run_sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE integration = ?1 AND event_type = ?2
             ORDER BY id DESC LIMIT 1"
        );
        for (name, et) in keys {
            let cur: Option<(String, i64)> = conn
                .query_row(
                    "SELECT cursor, updated_at FROM cursors WHERE integration = ?1 AND event_type = ?2",
                    params![name, et.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let last_run = conn
                .query_row(&last_run_sql, params![name, et.as_str()], run_from_row)
                .optional()?
                .flatten();
            let last_success_at: Option<i64> = conn
                .query_row(
                    "SELECT ended_at FROM runs WHERE integration = ?1 AND event_type = ?2
                       AND error IS NULL AND ended_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                    params![name, et.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            let (cursor, cursor_updated_at) = match cur {
                Some((c, t)) => (Some(c), Some(t)),
                None => (None, None),
            };
            out.push(StreamState {
                integration: name,
                event_type: et,
                cursor,
                cursor_updated_at,
                last_run,
                last_success_at,
            });
        }
        Ok(out)
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
