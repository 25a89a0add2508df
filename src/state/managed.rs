//! Integrations created through the local API: their settings (a JSON document that includes the
//! private key) and timestamps. With a seal key ([`State::set_seal_key`]) the settings are stored
//! sealed (AES-256-GCM), and rows an earlier version stored in the clear are sealed at once.

use super::{State, StateError};
use crate::support::clock::now_unix as now;
use crate::support::seal::{is_sealed, SealKey};
use rusqlite::{params, OptionalExtension};

/// One API-managed integration as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagedIntegration {
    pub name: String,
    /// The integration's settings as JSON (snake_case configuration keys; holds the key), opened.
    pub data: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for ManagedIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIntegration")
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

const SELECT: &str = "SELECT name, data, created_at, updated_at FROM managed_integrations";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ManagedIntegration> {
    Ok(ManagedIntegration {
        name: r.get(0)?,
        data: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
    })
}

impl State {
    /// Use `key` to seal API-created integrations from now on, and seal the rows an earlier
    /// version stored in the clear (then empty the WAL, so no plain copy stays in it).
    /// Returns how many rows were sealed.
    pub fn set_seal_key(&self, key: SealKey) -> Result<usize, StateError> {
        let key = self.seal.get_or_init(|| key);
        let conn = self.conn();
        let plain: Vec<(String, String)> = conn
            .prepare("SELECT name, data FROM managed_integrations")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<(String, String)>, _>>()?
            .into_iter()
            .filter(|(_, data)| !is_sealed(data))
            .collect();
        for (name, data) in &plain {
            conn.execute(
                "UPDATE managed_integrations SET data = ?1 WHERE name = ?2",
                params![key.seal(data), name],
            )?;
        }
        if !plain.is_empty() {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            tracing::info!(
                rows = plain.len(),
                "integrations created through the API: private keys sealed"
            );
        }
        Ok(plain.len())
    }

    /// Whether a seal key is set (the API refuses inline private keys without one).
    pub fn can_seal(&self) -> bool {
        self.seal.get().is_some()
    }

    fn unseal(&self, mut m: ManagedIntegration) -> Result<ManagedIntegration, StateError> {
        if is_sealed(&m.data) {
            let fail = |message: String| StateError::Sealed {
                name: m.name.clone(),
                message,
            };
            let key = self.seal.get().ok_or_else(|| {
                fail(
                    "its settings are sealed: set [api] seal_key_file to the key that sealed them"
                        .into(),
                )
            })?;
            m.data = key.open(&m.data).map_err(|e| fail(e.to_string()))?;
        }
        Ok(m)
    }

    /// Every API-managed integration, by name. One whose settings cannot be opened (sealed, and
    /// no or another seal key) is logged and left out.
    pub fn managed_integrations(&self) -> Result<Vec<ManagedIntegration>, StateError> {
        let rows = {
            let conn = self.conn();
            let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY name"))?;
            let rows = stmt.query_map([], row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        Ok(rows
            .into_iter()
            .filter_map(|m| {
                self.unseal(m)
                    .map_err(|e| tracing::error!("left out: {e}"))
                    .ok()
            })
            .collect())
    }

    /// One API-managed integration, opened.
    pub fn managed_integration(
        &self,
        name: &str,
    ) -> Result<Option<ManagedIntegration>, StateError> {
        let found = {
            let conn = self.conn();
            conn.query_row(&format!("{SELECT} WHERE name = ?1"), params![name], row)
                .optional()?
        };
        found.map(|m| self.unseal(m)).transpose()
    }

    /// Create or replace an API-managed integration (sealed when a seal key is set); returns it
    /// as stored.
    pub fn save_managed_integration(
        &self,
        name: &str,
        data: &str,
    ) -> Result<ManagedIntegration, StateError> {
        let t = now();
        let stored = match self.seal.get() {
            Some(key) => key.seal(data),
            None => data.to_string(),
        };
        {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO managed_integrations (name, data, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                params![name, stored, t],
            )?;
        }
        self.managed_integration(name)?
            .ok_or_else(|| StateError::Open {
                path: self.path().to_string(),
                message: format!("integration {name} vanished right after it was saved"),
            })
    }

    /// Remove an API-managed integration; `true` when there was one. Its cursors stay, so a
    /// re-created integration of the same name resumes where it stopped.
    pub fn delete_managed_integration(&self, name: &str) -> Result<bool, StateError> {
        let conn = self.conn();
        Ok(conn.execute(
            "DELETE FROM managed_integrations WHERE name = ?1",
            params![name],
        )? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_integrations_round_trip() {
        let st = State::open_in_memory().unwrap();
        assert!(st.managed_integrations().unwrap().is_empty());
        let a = st.save_managed_integration("acme", r#"{"x":1}"#).unwrap();
        assert_eq!(a.data, r#"{"x":1}"#);
        let b = st.save_managed_integration("acme", r#"{"x":2}"#).unwrap();
        assert_eq!(b.created_at, a.created_at);
        assert_eq!(b.data, r#"{"x":2}"#);
        st.save_managed_integration("beta", "{}").unwrap();
        let names: Vec<String> = st
            .managed_integrations()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["acme", "beta"]);
        assert!(st.delete_managed_integration("acme").unwrap());
        assert!(!st.delete_managed_integration("acme").unwrap());
        assert!(st.managed_integration("acme").unwrap().is_none());
        assert!(!format!("{b:?}").contains("x"), "Debug hides the settings");
    }

    #[test]
    fn plain_rows_are_sealed_and_opened_with_the_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let st = State::open(&path).unwrap();
        st.save_managed_integration("old", r#"{"private_key":"SECRETPEM"}"#)
            .unwrap();
        assert!(!st.can_seal());
        drop(st);
        let st = State::open(&path).unwrap();
        assert_eq!(st.set_seal_key(SealKey::from_bytes(&[1; 32])).unwrap(), 1);
        assert!(st.can_seal());
        st.save_managed_integration("new", r#"{"private_key":"OTHERPEM"}"#)
            .unwrap();
        let all = st.managed_integrations().unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[1].data.contains("SECRETPEM"));
        drop(st);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let bytes = std::fs::read(&p).unwrap_or_default();
            for needle in [&b"SECRETPEM"[..], b"OTHERPEM"] {
                assert!(!bytes.windows(needle.len()).any(|w| w == needle));
            }
        }
        let st = State::open(&path).unwrap();
        assert!(st.managed_integrations().unwrap().is_empty(), "no key");
        assert!(st.managed_integration("old").is_err());
        st.set_seal_key(SealKey::from_bytes(&[2; 32])).unwrap();
        assert!(st.managed_integrations().unwrap().is_empty(), "wrong key");
    }
}
