//! The pipeline's side of [`Recall`]: which audit users were already emitted, as the source must
//! see it while pages travel ahead of their commit.
//!
//! The recognition set in the state holds what was committed. The pages fetched and not yet
//! committed (at most the channel's [`super::PAGES_IN_FLIGHT`] and the one in delivery) add to
//! it what they emitted: `drain` registers each page's changes here when the source hands the
//! page over, and drops them once the page is committed. A lookup reads those pending changes
//! first, then the state (a page committed in between is then found in the state), and the
//! pending ones win (they are newer).

use crate::sources::Recall;
use crate::state::{Seen, SeenChanges, State, StateError};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// One stream's recognition set for one cycle.
pub struct PageRecall {
    /// `None` for a preview (`get-events`): only what this cycle emitted counts.
    state: Option<State>,
    integration: String,
    /// The users each page handed over and not yet committed added, oldest page first.
    pending: Mutex<VecDeque<HashMap<String, Seen>>>,
    /// The first lookup that failed: the page it was for is not delivered.
    failure: Mutex<Option<StateError>>,
}

impl PageRecall {
    pub fn new(state: Option<State>, integration: &str) -> PageRecall {
        PageRecall {
            state,
            integration: integration.to_string(),
            pending: Mutex::new(VecDeque::new()),
            failure: Mutex::new(None),
        }
    }

    /// A page was handed over with these changes (in page order).
    pub fn handed_over(&self, changes: &SeenChanges) {
        let added = changes.added.iter().cloned().collect();
        lock(&self.pending).push_back(added);
    }

    /// The oldest page handed over was committed: its users are in the state now.
    pub fn committed(&self) {
        lock(&self.pending).pop_front();
    }

    /// The error of a lookup that failed since the last call, if any.
    pub fn failure(&self) -> Result<(), StateError> {
        match lock(&self.failure).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recall for PageRecall {
    fn recall(&self, keys: &[String]) -> HashMap<String, Seen> {
        // Pending first: a page committed after this snapshot is in the state read below.
        let mut newer: HashMap<String, Seen> = HashMap::new();
        for page in lock(&self.pending).iter() {
            for k in keys {
                if let Some(s) = page.get(k) {
                    newer.insert(k.clone(), s.clone());
                }
            }
        }
        let mut found = match &self.state {
            Some(state) => match state.seen_users(&self.integration, keys) {
                Ok(found) => found,
                Err(e) => {
                    lock(&self.failure).get_or_insert(e);
                    HashMap::new()
                }
            },
            None => HashMap::new(),
        };
        found.extend(newer);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::EventType;

    fn seen(d: &str) -> Seen {
        Seen {
            digest: d.into(),
            at: 1,
        }
    }

    #[test]
    fn pages_in_flight_count_until_committed() {
        let state = State::open_in_memory().unwrap();
        let r = PageRecall::new(Some(state.clone()), "acme");
        let keys = vec!["u1".to_string(), "u2".to_string()];
        assert!(r.recall(&keys).is_empty());
        let page = SeenChanges {
            added: vec![("u1".into(), seen("a"))],
            forget_before: None,
        };
        r.handed_over(&page);
        r.handed_over(&SeenChanges {
            added: vec![("u1".into(), seen("b"))],
            forget_before: None,
        });
        assert_eq!(r.recall(&keys)["u1"], seen("b"), "the newest page wins");
        state
            .commit_checkpoint("acme", EventType::AuditUsers, "p1", &page)
            .unwrap();
        r.committed();
        assert_eq!(r.recall(&keys)["u1"], seen("b"));
        r.committed();
        assert_eq!(r.recall(&keys)["u1"], seen("a"), "as committed");
        assert!(r.failure().is_ok());
        // Without a state (a preview), only what was handed over.
        let preview = PageRecall::new(None, "acme");
        preview.handed_over(&page);
        assert_eq!(preview.recall(&keys).len(), 1);
    }
}
