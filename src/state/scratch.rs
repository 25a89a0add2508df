//! A scratch store: a private SQLite database in an anonymous temporary file, for data one
//! query needs to look up by key but must not hold in memory (the account's eSignature users
//! read through Users:list while an audit-user query joins them to its Admin pages).
//!
//! It lives here, not in `sources/`, because `rusqlite` is used only inside `state/`; and it is
//! its own database, not the state database, because sources never touch the state database.
//! SQLite creates the file for an empty file name and deletes it when the connection closes
//! (on drop); its page cache is bounded, so memory stays flat however many entries it holds.

use super::StateError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Pages of SQLite's cache (about 4 KiB each): what the store may hold in memory.
const CACHE_PAGES: i64 = 512;

/// A key → text store for one query, deleted on drop.
pub struct Scratch {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

impl Scratch {
    /// A new, empty store in an anonymous temporary file.
    pub fn new() -> Result<Scratch, StateError> {
        let conn = Connection::open_with_flags(
            "",
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Nothing here outlives the process: no journal, no fsync.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = {CACHE_PAGES};
             CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
        ))?;
        Ok(Scratch {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Store `value` under `key` (replacing what was there).
    pub fn put(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.put_all([(key, value)])
    }

    /// Store every `(key, value)` in one transaction (replacing what was there).
    pub fn put_all<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR REPLACE INTO entries (key, value) VALUES (?1, ?2)")?;
            for (k, v) in entries {
                stmt.execute(params![k, v])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<String>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT value FROM entries WHERE key = ?1")?;
        Ok(stmt
            .query_row(params![key], |r| r.get::<_, String>(0))
            .optional()?)
    }

    /// How many entries the store holds.
    pub fn len(&self) -> Result<u64, StateError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> Result<bool, StateError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_replace_and_miss() {
        let s = Scratch::new().unwrap();
        assert!(s.is_empty().unwrap());
        s.put("a", r#"{"x":1}"#).unwrap();
        s.put_all([("b", "2"), ("c", "3")]).unwrap();
        s.put("a", "again").unwrap();
        assert_eq!(s.get("a").unwrap().as_deref(), Some("again"));
        assert_eq!(s.get("c").unwrap().as_deref(), Some("3"));
        assert_eq!(s.get("zz").unwrap(), None);
        assert_eq!(s.len().unwrap(), 3);
    }

    #[test]
    fn stores_are_separate_and_hold_more_than_their_cache() {
        let a = Scratch::new().unwrap();
        let b = Scratch::new().unwrap();
        let big = "v".repeat(2_000);
        let keys: Vec<String> = (0..5_000).map(|i| format!("k{i}")).collect();
        a.put_all(keys.iter().map(|k| (k.as_str(), big.as_str())))
            .unwrap();
        assert_eq!(a.len().unwrap(), 5_000);
        assert_eq!(a.get("k4999").unwrap().as_deref(), Some(big.as_str()));
        assert!(b.is_empty().unwrap());
    }
}
