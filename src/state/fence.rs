//! The lease book: which integrations this replica holds, and under which epoch. The cluster
//! loop (`crate::cluster`) fills it as it claims and renews leases; [`State`](super::State) reads
//! it to fence every write, and drops an entry the moment the database refuses a write under it.

use crate::telemetry::events::WriteFenced;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Integration → epoch of the lease this replica holds.
#[derive(Debug)]
pub struct LeaseBook {
    replica: String,
    held: Mutex<HashMap<String, i64>>,
}

impl LeaseBook {
    pub fn new(replica: &str) -> LeaseBook {
        LeaseBook {
            replica: replica.to_string(),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, i64>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The epoch this replica holds `integration` under, if it holds it.
    pub fn epoch(&self, integration: &str) -> Option<i64> {
        self.held().get(integration).copied()
    }

    /// Record a lease taken (or renewed) under `epoch`.
    pub fn hold(&self, integration: &str, epoch: i64) {
        self.held().insert(integration.to_string(), epoch);
    }

    /// Forget a lease (released or lost); its epoch if it was held.
    pub fn forget(&self, integration: &str) -> Option<i64> {
        self.held().remove(integration)
    }

    /// Every lease held, sorted by integration.
    pub fn all(&self) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = self.held().iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort();
        v
    }

    /// How many leases are held.
    pub fn len(&self) -> usize {
        self.held().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A write under `integration`'s lease was refused: the lease is gone.
    pub(super) fn refused(&self, integration: &str) {
        let epoch = self.forget(integration);
        WriteFenced {
            integration,
            replica: &self.replica,
            epoch,
        }
        .emit();
    }
}
