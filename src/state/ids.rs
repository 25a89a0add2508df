//! Stable integer ids for integrations (the local API's `id`, as the seed's record has it).
//!
//! An id is assigned by the state database the first time a name is seen — a file integration
//! when the daemon loads it, an API integration when it is created — and kept for ever: ids are
//! never reused, a deleted and re-created name gets its old id back (as it gets its cursors
//! back), and replicas sharing PostgreSQL see the same ids.

use super::{State, StateError};

impl State {
    /// The ids of `names`, assigning ids to those that have none yet (one write, only when
    /// some are missing). Every name of `names` is in the answer.
    pub fn integration_ids(&self, names: &[String]) -> Result<Vec<(String, i64)>, StateError> {
        let mut known = self.store().integration_ids(&[])?;
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !known.iter().any(|(k, _)| k == *n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            known = self.store().integration_ids(&missing)?;
        }
        Ok(known)
    }

    /// The id of `name`, assigned now when it has none.
    pub fn integration_id(&self, name: &str) -> Result<i64, StateError> {
        self.integration_ids(&[name.to_string()])?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id)
            .ok_or_else(|| StateError::Open {
                path: self.path().to_string(),
                message: format!("integration {name}: no id after assigning one"),
            })
    }

    /// The id of `name` if it has one (never assigns: for read-only commands).
    pub fn known_integration_id(&self, name: &str) -> Result<Option<i64>, StateError> {
        Ok(self
            .store()
            .integration_ids(&[])?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id))
    }

    /// The name that holds `id`, if any.
    pub fn integration_name(&self, id: i64) -> Result<Option<String>, StateError> {
        Ok(self
            .store()
            .integration_ids(&[])?
            .into_iter()
            .find(|(_, i)| *i == id)
            .map(|(n, _)| n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_are_assigned_once_and_never_reused(st: &State) {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let first = st.integration_ids(&names(&["acme", "beta"])).unwrap();
        let acme = st.integration_id("acme").unwrap();
        let beta = st.integration_id("beta").unwrap();
        assert_ne!(acme, beta);
        assert_eq!(first.len(), 2);
        assert_eq!(st.known_integration_id("gamma").unwrap(), None);
        let gamma = st.integration_id("gamma").unwrap();
        assert!(gamma > acme.max(beta), "a new name gets a new id");
        assert_eq!(st.integration_id("acme").unwrap(), acme, "stable");
        assert_eq!(st.integration_name(beta).unwrap().as_deref(), Some("beta"));
        assert_eq!(st.integration_name(gamma + 100).unwrap(), None);
        // Deleting an API integration keeps its id: re-created, it has it again.
        st.save_managed_integration("beta", "{}").unwrap();
        st.delete_managed_integration("beta").unwrap();
        assert_eq!(st.integration_id("beta").unwrap(), beta);
    }

    #[test]
    fn sqlite_ids_are_assigned_once_and_never_reused() {
        ids_are_assigned_once_and_never_reused(&State::open_in_memory().unwrap());
    }

    #[test]
    fn sqlite_ids_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let st = State::open(&path).unwrap();
        let a = st.integration_id("acme").unwrap();
        drop(st);
        let st = State::open(&path).unwrap();
        assert_eq!(st.known_integration_id("acme").unwrap(), Some(a));
        assert!(st.integration_id("zeta").unwrap() > a);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/test starts one"]
    fn postgres_ids_are_assigned_once_and_never_reused() {
        ids_are_assigned_once_and_never_reused(&crate::state::tests::pg_state("ids"));
    }
}
