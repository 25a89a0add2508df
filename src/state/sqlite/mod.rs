//! The SQLite backend: one file (WAL, mode 0600, versioned migrations) used by one collecting
//! process, which the collection lock (`<path>.lock`) enforces. Fences are ignored: one host
//! needs no leases.

use super::store::{Fence, Store, StoredIntegration};
use super::{CachedToken, RunRecord, StateError, StreamState};
use crate::record::EventType;
use crate::support::clock::now_unix;
use crate::support::secret::Secret;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub(super) mod open;
mod runs;

/// The busy timeout: another process holding a write lock is waited for this long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One SQLite connection, shared behind a mutex.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StateError> {
        Ok(SqliteStore {
            conn: Mutex::new(open::open_file(path)?),
        })
    }

    pub fn open_in_memory() -> Result<SqliteStore, StateError> {
        Ok(SqliteStore {
            conn: Mutex::new(open::open_memory()?),
        })
    }

    /// The connection; a mutex poisoned by a panicking thread is recovered (SQLite keeps
    /// its own consistency, and every method leaves no transaction open).
    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredIntegration> {
    Ok(StoredIntegration {
        name: r.get(0)?,
        data: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
    })
}

const SELECT_MANAGED: &str = "SELECT name, data, created_at, updated_at FROM managed_integrations";

impl Store for SqliteStore {
    fn cursor(&self, integration: &str, et: EventType) -> Result<Option<String>, StateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT cursor FROM cursors WHERE integration = ?1 AND event_type = ?2",
                params![integration, et.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn save_cursor(
        &self,
        integration: &str,
        et: EventType,
        cursor: &str,
        _fence: Fence,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO cursors (integration, event_type, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (integration, event_type)
             DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            params![integration, et.as_str(), cursor, now_unix()],
        )?;
        Ok(())
    }

    fn token(&self, integration: &str) -> Result<Option<CachedToken>, StateError> {
        Ok(self
            .conn()
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
            .optional()?)
    }

    fn save_token(
        &self,
        integration: &str,
        token: &CachedToken,
        _fence: Fence,
    ) -> Result<(), StateError> {
        self.conn().execute(
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

    fn clear_token(&self, integration: &str) -> Result<bool, StateError> {
        let n = self.conn().execute(
            "DELETE FROM tokens WHERE integration = ?1",
            params![integration],
        )?;
        Ok(n > 0)
    }

    fn get_value(&self, integration: &str, key: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM kv WHERE integration = ?1 AND key = ?2",
                params![integration, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_value(
        &self,
        integration: &str,
        key: &str,
        value: &str,
        _fence: Fence,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO kv (integration, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (integration, key)
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![integration, key, value, now_unix()],
        )?;
        Ok(())
    }

    fn delete_value(
        &self,
        integration: &str,
        key: &str,
        _fence: Fence,
    ) -> Result<bool, StateError> {
        let n = self.conn().execute(
            "DELETE FROM kv WHERE integration = ?1 AND key = ?2",
            params![integration, key],
        )?;
        Ok(n > 0)
    }

    fn run_started(
        &self,
        integration: &str,
        et: EventType,
        started_at: i64,
    ) -> Result<i64, StateError> {
        runs::started(&mut self.conn(), integration, et, started_at)
    }

    fn run_finished(
        &self,
        run_id: i64,
        ended_at: i64,
        events: u64,
        pages: u64,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        runs::finished(&self.conn(), run_id, ended_at, events, pages, error)
    }

    fn recent_runs(
        &self,
        integration: &str,
        et: EventType,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        runs::recent(&self.conn(), integration, et, limit)
    }

    fn streams(&self, integration: Option<&str>) -> Result<Vec<StreamState>, StateError> {
        runs::streams(&self.conn(), integration)
    }

    fn managed(&self) -> Result<Vec<StoredIntegration>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SELECT_MANAGED} ORDER BY name"))?;
        let rows = stmt.query_map([], stored)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn managed_one(&self, name: &str) -> Result<Option<StoredIntegration>, StateError> {
        Ok(self
            .conn()
            .query_row(
                &format!("{SELECT_MANAGED} WHERE name = ?1"),
                params![name],
                stored,
            )
            .optional()?)
    }

    fn save_managed(&self, name: &str, data: &str, at: i64) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO managed_integrations (name, data, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            params![name, data, at],
        )?;
        Ok(())
    }

    fn delete_managed(&self, name: &str) -> Result<bool, StateError> {
        Ok(self.conn().execute(
            "DELETE FROM managed_integrations WHERE name = ?1",
            params![name],
        )? > 0)
    }

    fn reseal(&self, rows: &[(String, String, String)]) -> Result<(), StateError> {
        let conn = self.conn();
        for (name, old, new) in rows {
            conn.execute(
                "UPDATE managed_integrations SET data = ?1 WHERE name = ?2 AND data = ?3",
                params![new, name, old],
            )?;
        }
        // secure_delete zeroes the old pages; emptying the WAL drops the copies it held.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn integration_ids(&self, assign: &[String]) -> Result<Vec<(String, i64)>, StateError> {
        let mut conn = self.conn();
        if !assign.is_empty() {
            let tx = conn.transaction()?;
            for name in assign {
                tx.execute(
                    "INSERT INTO integration_ids (name, assigned_at) VALUES (?1, ?2)
                     ON CONFLICT (name) DO NOTHING",
                    params![name, now_unix()],
                )?;
            }
            tx.commit()?;
        }
        let mut stmt = conn.prepare("SELECT name, id FROM integration_ids ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn ping(&self) -> Result<(), StateError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}
