//! Integrations created through the local API: their settings (a JSON document that includes the
//! private key) and timestamps. With seal keys ([`State::set_seal_keys`]) the settings are stored
//! sealed (AES-256-GCM, bound to the integration's name), and at start every row that is not
//! sealed under the current key as v2 — stored in the clear by an earlier version, sealed as v1,
//! or sealed under a previous key of a rotation — is sealed again under the current key.

use super::store::StoredIntegration;
use super::{State, StateError};
use crate::support::clock::now_unix as now;
use crate::support::seal::{is_sealed, SealKey, SealKeys};

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

/// A stored integration whose settings cannot be opened: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unopened {
    pub name: String,
    pub error: String,
}

impl State {
    /// [`State::set_seal_keys`] with one key and no previous ones.
    pub fn set_seal_key(&self, key: SealKey) -> Result<usize, StateError> {
        self.set_seal_keys(SealKeys {
            current: key,
            previous: Vec::new(),
        })
    }

    /// Use `keys` to seal API-created integrations from now on (under `keys.current`), and seal
    /// again every row that is not sealed under it as v2: rows in the clear, `sealed:v1:` rows,
    /// rows a previous key opens (then empty the WAL, so no old copy stays in it). A row no key
    /// opens is left as it is (and reported by [`State::managed_integrations_checked`]).
    /// Returns how many rows were sealed.
    pub fn set_seal_keys(&self, keys: SealKeys) -> Result<usize, StateError> {
        let keys = self.seal.get_or_init(|| keys);
        let mut stale = Vec::new();
        for m in self.store().managed()? {
            let plain = if is_sealed(&m.data) {
                match keys.open(&m.data, &m.name) {
                    Ok(o) if o.stale => o.plain,
                    _ => continue,
                }
            } else {
                m.data.clone()
            };
            let sealed = keys.current.seal(&plain, &m.name);
            stale.push((m.name, m.data, sealed));
        }
        if !stale.is_empty() {
            self.store().reseal(&stale)?;
            tracing::info!(
                rows = stale.len(),
                "integrations created through the API: settings sealed under the current seal key"
            );
        }
        Ok(stale.len())
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
            let keys = self.seal.get().ok_or_else(|| {
                fail(
                    "its settings are sealed: set [api] seal_key_file to the key that sealed them"
                        .into(),
                )
            })?;
            m.data = keys
                .open(&m.data, &m.name)
                .map_err(|e| {
                    fail(format!(
                        "{e}: neither seal_key_file nor any of previous_seal_key_files opens \
                         it; configure the key that sealed it, or delete it \
                         (DELETE /integrations/{})",
                        m.name
                    ))
                })?
                .plain;
        }
        Ok(m)
    }

    /// Every API-managed integration, by name, opened; and those whose settings cannot be
    /// opened (sealed, and no key set or none of the keys opens them).
    pub fn managed_integrations_checked(
        &self,
    ) -> Result<(Vec<ManagedIntegration>, Vec<Unopened>), StateError> {
        let mut opened = Vec::new();
        let mut unopened = Vec::new();
        for m in self.store().managed()? {
            let name = m.name.clone();
            match self.unseal(m) {
                Ok(m) => opened.push(m),
                Err(e) => unopened.push(Unopened {
                    name,
                    error: e.to_string(),
                }),
            }
        }
        Ok((opened, unopened))
    }

    /// Every API-managed integration, by name. One whose settings cannot be opened (sealed, and
    /// no or another seal key) is logged and left out.
    pub fn managed_integrations(&self) -> Result<Vec<ManagedIntegration>, StateError> {
        let (opened, unopened) = self.managed_integrations_checked()?;
        for u in unopened {
            tracing::error!(integration = %u.name, "left out: {}", u.error);
        }
        Ok(opened)
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
            Some(keys) => keys.current.seal(data, name),
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

    /// Rows written under key A (one as v1, one copied onto another integration's row); then
    /// key B with A as previous: everything opens and is resealed as v2 under B, except the
    /// copied row, which opens under no name but its own.
    fn rotation_reseals_and_a_copied_row_does_not_open(st: &State) {
        use crate::support::seal::{seal_v1_for_tests, SEALED_PREFIX};
        let (a, b) = (SealKey::from_bytes(&[1; 32]), SealKey::from_bytes(&[2; 32]));
        let store = st.store();
        store
            .save_managed("acme", &a.seal(r#"{"k":"ACME"}"#, "acme"), 1)
            .unwrap();
        store
            .save_managed("beta", &a.seal(r#"{"k":"BETA"}"#, "beta"), 1)
            .unwrap();
        store
            .save_managed("gamma", &seal_v1_for_tests(&[1; 32], r#"{"k":"GAMMA"}"#), 1)
            .unwrap();
        let beta_row = store.managed_one("beta").unwrap().unwrap().data;
        store.save_managed("delta", &beta_row, 1).unwrap();
        let keys = SealKeys {
            current: b.clone(),
            previous: vec![a],
        };
        assert_eq!(st.set_seal_keys(keys).unwrap(), 3);
        let (opened, unopened) = st.managed_integrations_checked().unwrap();
        let names: Vec<&str> = opened.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["acme", "beta", "gamma"]);
        assert!(opened[2].data.contains("GAMMA"));
        assert_eq!(unopened.len(), 1);
        assert_eq!(unopened[0].name, "delta");
        assert!(
            unopened[0].error.contains("another integration")
                && unopened[0].error.contains("DELETE /integrations/delta"),
            "{}",
            unopened[0].error
        );
        for m in store.managed().unwrap() {
            if m.name != "delta" {
                assert!(m.data.starts_with(SEALED_PREFIX), "{}", m.name);
                assert!(b.open(&m.data, &m.name).is_ok(), "B alone opens {}", m.name);
            }
        }
    }

    #[test]
    fn sqlite_rotation_reseals_and_a_copied_row_does_not_open() {
        rotation_reseals_and_a_copied_row_does_not_open(&State::open_in_memory().unwrap());
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/test starts one"]
    fn postgres_rotation_reseals_and_a_copied_row_does_not_open() {
        rotation_reseals_and_a_copied_row_does_not_open(&crate::state::tests::pg_state("rotation"));
    }
}
