//! The set of integrations a process serves: from the configuration file, and created through
//! the local API (stored in the state database). Readers take snapshots; writers replace whole
//! entries, so a running stream keeps the `Integration` it started with.

use super::policy::ApiPolicy;
use super::SetupError;
use super::{Integration, Origin};
use crate::config::{Config, IntegrationConfig};
use crate::record::EventType;
use crate::state::State;
use std::sync::{Arc, RwLock};

/// Every integration, by name.
pub struct Registry {
    integrations: RwLock<Vec<Arc<Integration>>>,
    /// What integrations created through the API may be (`[api] allowed_endpoints`).
    policy: ApiPolicy,
    /// Stored API integrations that could not be set up at the last load or sync.
    left_out: RwLock<Vec<LeftOut>>,
}

/// A stored integration (created through the API) that is not served, and why: its settings
/// cannot be opened, no longer keep to the API's rules, or its name is the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub name: String,
    pub error: String,
}

impl Registry {
    /// Set up every integration of `config` (active or not) and every one created through the
    /// local API (from the state database), and give every name its stable id. A stored
    /// integration that cannot be set up (its settings do not open, break the API's rules, or
    /// its name is now the file's) is logged, left out and kept in [`Registry::left_out`].
    pub fn load(config: &Config, state: &State) -> Result<Registry, SetupError> {
        let mut integrations = config
            .integrations
            .iter()
            .map(|c| Integration::new(c.clone(), state.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let policy = ApiPolicy::from_config(config);
        let (stored, left_out) = managed(state, &config.integrations, &policy)?;
        integrations.extend(stored);
        let names: Vec<String> = integrations.iter().map(|i| i.name().to_string()).collect();
        // Ids are a convenience of the API: a database that cannot assign them now does not
        // keep the daemon from collecting (the API assigns them when it next shows a name).
        if let Err(e) = state.integration_ids(&names) {
            tracing::warn!("integration ids not assigned yet: {e}");
        }
        Ok(Registry {
            integrations: RwLock::new(integrations),
            policy,
            left_out: RwLock::new(left_out),
        })
    }

    /// The rules integrations created through the API keep to.
    pub fn policy(&self) -> &ApiPolicy {
        &self.policy
    }

    /// The stored API integrations left out at the last load or sync.
    pub fn left_out(&self) -> Vec<LeftOut> {
        self.left_out
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forget that `name` was left out (its row was deleted).
    pub fn forget_left_out(&self, name: &str) {
        self.left_out
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|l| l.name != name);
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
        let (stored, left_out) = managed(state, &files, &self.policy)?;
        *self.left_out.write().unwrap_or_else(|p| p.into_inner()) = left_out;
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

/// The integrations created through the API, built against the file's `files` and `policy`;
/// and those left out (logged), each with the reason.
fn managed(
    state: &State,
    files: &[IntegrationConfig],
    policy: &ApiPolicy,
) -> Result<(Vec<Arc<Integration>>, Vec<LeftOut>), SetupError> {
    let mut out = Vec::new();
    let (opened, unopened) = state.managed_integrations_checked()?;
    let mut left_out: Vec<LeftOut> = unopened
        .into_iter()
        .map(|u| LeftOut {
            name: u.name,
            error: u.error,
        })
        .collect();
    for m in opened {
        let clash = files.iter().any(|f| f.name == m.name);
        let built = if clash {
            Err(format!(
                "the configuration file also defines an integration {:?}; the two would share \
                 cursors and tokens, so the file's is served: delete this one \
                 (DELETE /integrations/{}) or rename the file's",
                m.name, m.name
            ))
        } else {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&m.data)
                .map_err(|e| format!("its stored settings are not JSON: {e}"))
                .and_then(|settings| super::managed::to_config(&settings, files, policy))
                .and_then(|c| Integration::new(c, state.clone()).map_err(|e| e.to_string()))
        };
        match built {
            Ok(mut i) => {
                i.origin = Origin::Api {
                    created_at: m.created_at,
                    updated_at: m.updated_at,
                };
                out.push(Arc::new(i));
            }
            Err(error) => left_out.push(LeftOut {
                name: m.name,
                error,
            }),
        }
    }
    for l in &left_out {
        tracing::error!(integration = %l.name, "integration created through the API is left out: {}", l.error);
    }
    left_out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((out, left_out))
}
