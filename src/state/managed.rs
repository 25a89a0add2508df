//! Integrations created through the local API: their settings (a JSON document that includes the
//! private key) and timestamps. With a seal key ([`State::set_seal_key`]) the settings are stored
//! sealed (AES-256-GCM), and rows an earlier version stored in the clear are sealed at once.

use super::store::StoredIntegration;
use super::{State, StateError};
use crate::support::clock::now_unix as now;
use crate::support::seal::{is_sealed, SealKey};

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

impl State {
    /// Use `key` to seal API-created integrations from now on, and seal the rows an earlier
    /// version stored in the clear (then empty the WAL, so no plain copy stays in it).
    /// Returns how many rows were sealed.
    pub fn set_seal_key(&self, key: SealKey) -> Result<usize, StateError> {
        let key = self.seal.get_or_init(|| key);
        let plain: Vec<(String, String)> = self
            .store()
            .managed()?
            .into_iter()
            .filter(|m| !is_sealed(&m.data))
            .map(|m| (m.name, key.seal(&m.data)))
            .collect();
        if !plain.is_empty() {
            self.store().reseal(&plain)?;
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

    fn unseal(&self, m: StoredIntegration) -> Result<ManagedIntegration, StateError> {
        let mut m = ManagedIntegration {
            name: m.name,
            data: m.data,
            created_at: m.created_at,
            updated_at: m.updated_at,
        };
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
        Ok(self
            .store()
            .managed()?
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
        self.store()
            .managed_one(name)?
            .map(|m| self.unseal(m))
            .transpose()
    }

    /// Create or replace an API-managed integration (sealed when a seal key is set); returns it
    /// as stored.
    pub fn save_managed_integration(
        &self,
        name: &str,
        data: &str,
    ) -> Result<ManagedIntegration, StateError> {
        let stored = match self.seal.get() {
            Some(key) => key.seal(data),
            None => data.to_string(),
        };
        self.store().save_managed(name, &stored, now())?;
        self.managed_integration(name)?
            .ok_or_else(|| StateError::Open {
                path: self.path().to_string(),
                message: format!("integration {name} vanished right after it was saved"),
            })
    }

    /// Remove an API-managed integration; `true` when there was one. Its cursors stay, so a
    /// re-created integration of the same name resumes where it stopped.
    pub fn delete_managed_integration(&self, name: &str) -> Result<bool, StateError> {
        self.store().delete_managed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
