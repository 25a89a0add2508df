//! Integrations created through the local API: their settings (a JSON document that includes the
//! private key, so it lives only here, in the 0600 database) and timestamps.

use super::{State, StateError};
use crate::support::clock::now_unix as now;
use rusqlite::{params, OptionalExtension};

/// One API-managed integration as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagedIntegration {
    pub name: String,
    /// The integration's settings as JSON (snake_case configuration keys; holds the key).
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

impl State {
    /// Every API-managed integration, by name.
    pub fn managed_integrations(&self) -> Result<Vec<ManagedIntegration>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, data, created_at, updated_at FROM managed_integrations ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ManagedIntegration {
                name: r.get(0)?,
                data: r.get(1)?,
                created_at: r.get(2)?,
                updated_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn managed_integration(
        &self,
        name: &str,
    ) -> Result<Option<ManagedIntegration>, StateError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT name, data, created_at, updated_at FROM managed_integrations WHERE name = ?1",
                params![name],
                |r| {
                    Ok(ManagedIntegration {
                        name: r.get(0)?,
                        data: r.get(1)?,
                        created_at: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Create or replace an API-managed integration; returns it as stored.
    pub fn save_managed_integration(
        &self,
        name: &str,
        data: &str,
    ) -> Result<ManagedIntegration, StateError> {
        let t = now();
        {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO managed_integrations (name, data, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                params![name, data, t],
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
}
