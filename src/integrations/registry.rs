//! The set of integrations a process serves: from the configuration file, and created through
//! the local API (stored in the state database). Readers take snapshots; writers replace whole
//! entries, so a running stream keeps the `Integration` it started with.

use super::SetupError;
use super::{Integration, Origin};
use crate::config::{Config, IntegrationConfig};
use crate::record::EventType;
use crate::state::State;
use std::sync::{Arc, RwLock};

/// Every integration, by name.
pub struct Registry {
    integrations: RwLock<Vec<Arc<Integration>>>,
}

impl Registry {
    /// Set up every integration of `config` (active or not) and every one created through the
    /// local API (from the state database). A stored integration that no longer validates (say
    /// its name is now taken by the file) is logged and left out.
    pub fn load(config: &Config, state: &State) -> Result<Registry, SetupError> {
        let mut integrations = config
            .integrations
            .iter()
            .map(|c| Integration::new(c.clone(), state.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        integrations.extend(managed(state, &config.integrations)?);
        Ok(Registry {
            integrations: RwLock::new(integrations),
        })
    }

    /// Bring the integrations created through the API up to date with the state database (another
    /// replica's API may have changed them): new and changed ones are built, deleted ones
    /// removed. Returns the names added, changed or removed.
    pub fn sync_managed(&self, state: &State) -> Result<Vec<String>, SetupError> {
        let current = self.integrations();
        let files: Vec<IntegrationConfig> = current
            .iter()
            .filter(|i| matches!(i.origin, Origin::File))
            .map(|i| i.config.clone())
            .collect();
        let stored = managed(state, &files)?;
        let mut changed = Vec::new();
        for integ in &stored {
            let same = current.iter().any(|c| {
                c.name() == integ.name()
                    && matches!((&c.origin, &integ.origin), (Origin::Api { updated_at: a, .. }, Origin::Api { updated_at: b, .. }) if a == b)
                    && format!("{:?}", c.config) == format!("{:?}", integ.config)
            });
            if !same {
                changed.push(integ.name().to_string());
                self.upsert(integ.clone());
            }
        }
        for c in current
            .iter()
            .filter(|c| matches!(c.origin, Origin::Api { .. }))
        {
            if !stored.iter().any(|s| s.name() == c.name()) {
                self.remove(c.name());
                changed.push(c.name().to_string());
            }
        }
        Ok(changed)
    }

    /// A snapshot of every integration.
    pub fn integrations(&self) -> Vec<Arc<Integration>> {
        self.integrations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn integration(&self, name: &str) -> Option<Arc<Integration>> {
        self.integrations().into_iter().find(|i| i.name() == name)
    }

    /// Add an integration, or replace the one of the same name.
    pub fn upsert(&self, integ: Arc<Integration>) {
        let mut list = self.integrations.write().unwrap_or_else(|p| p.into_inner());
        match list.iter_mut().find(|i| i.name() == integ.name()) {
            Some(slot) => *slot = integ,
            None => list.push(integ),
        }
    }

    /// Remove an integration; returns it.
    pub fn remove(&self, name: &str) -> Option<Arc<Integration>> {
        let mut list = self.integrations.write().unwrap_or_else(|p| p.into_inner());
        let at = list.iter().position(|i| i.name() == name)?;
        Some(list.remove(at))
    }

    /// The (integration, event type) streams `run` and `once` drive: active integrations only.
    pub fn streams(&self) -> Vec<(Arc<Integration>, EventType)> {
        self.integrations()
            .iter()
            .flat_map(|i| i.streams())
            .collect()
    }
}

/// The integrations created through the API, built against the file's `files`. One that no
/// longer validates (say its name is now taken by the file) is logged and left out.
fn managed(
    state: &State,
    files: &[IntegrationConfig],
) -> Result<Vec<Arc<Integration>>, SetupError> {
    let mut out = Vec::new();
    for m in state.managed_integrations()? {
        let built = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&m.data)
            .map_err(|e| e.to_string())
            .and_then(|settings| super::managed::to_config(&settings, files))
            .and_then(|c| Integration::new(c, state.clone()).map_err(|e| e.to_string()));
        match built {
            Ok(mut i) => {
                i.origin = Origin::Api {
                    created_at: m.created_at,
                    updated_at: m.updated_at,
                };
                out.push(Arc::new(i));
            }
            Err(e) => {
                tracing::error!(integration = %m.name, "integration created through the API is left out: {e}")
            }
        }
    }
    Ok(out)
}
