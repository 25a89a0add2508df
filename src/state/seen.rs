//! The audit-user recognition set: every user the collector emitted recently enough that the
//! next query's overlap may bring it back (user key → digest of what Docusign said, and when the
//! collector first saw that version). It lives in its own table (`audit_users_seen`), not in the
//! stream's checkpoint, so a checkpoint stays the size of a page whatever the organisation's size.
//!
//! It changes only with a checkpoint: [`State::commit_checkpoint`] applies a page's
//! [`SeenChanges`] (the users the page emitted; at the end of a query, the pruning) and saves the
//! cursor in one transaction, so a crash between the two can neither lose nor double a user.
//! Sources read it through a read-only handle the pipeline gives them (`sources::Recall`).

use super::{State, StateError};
use crate::record::EventType;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Keys looked up in one statement at most (SQLite's bound on parameters is far above).
pub(super) const LOOKUP_CHUNK: usize = 500;

/// A user already emitted: the digest of what Docusign said, and when the collector first saw
/// that version (Unix seconds, collector clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub digest: String,
    pub at: i64,
}

/// What one checkpoint changes in the recognition set of its integration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenChanges {
    /// Users emitted by the page (one entry per key; a later entry for a key replaces it).
    pub added: Vec<(String, Seen)>,
    /// Forget the users first seen before this (Unix seconds): set on a query's last page,
    /// to what the next query's overlap can no longer bring back.
    pub forget_before: Option<i64>,
}

impl SeenChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.forget_before.is_none()
    }

    /// `added` with one entry per key (the last one), in first-seen order.
    pub(super) fn unique(&self) -> Vec<(&str, &Seen)> {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(self.added.len());
        for (i, (k, _)) in self.added.iter().enumerate() {
            last.insert(k.as_str(), i);
        }
        self.added
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| last.get(k.as_str()) == Some(i))
            .map(|(_, (k, s))| (k.as_str(), s))
            .collect()
    }
}

impl State {
    /// The remembered versions of `keys` for `integration` (keys it does not remember are absent).
    pub fn seen_users(
        &self,
        integration: &str,
        keys: &[String],
    ) -> Result<HashMap<String, Seen>, StateError> {
        let mut out = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            out.extend(self.store().seen(integration, chunk)?);
        }
        Ok(out)
    }

    /// How many users `integration` remembers for the overlap.
    pub fn remembered_users(&self, integration: &str) -> Result<u64, StateError> {
        self.store().seen_count(integration)
    }

    /// Save a stream's checkpoint and apply `changes` to the recognition set, in one transaction
    /// (fenced like every checkpoint: with replicas, nothing is written unless this replica
    /// still holds the integration's lease).
    pub fn commit_checkpoint(
        &self,
        integration: &str,
        et: EventType,
        cursor: &str,
        changes: &SeenChanges,
    ) -> Result<(), StateError> {
        if changes.is_empty() {
            return self.save_cursor(integration, et, cursor);
        }
        self.fenced(integration, |f| {
            self.store()
                .commit_checkpoint(integration, et, cursor, changes, f)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AU: EventType = EventType::AuditUsers;

    fn seen(d: &str, at: i64) -> Seen {
        Seen {
            digest: d.into(),
            at,
        }
    }

    fn keys(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn commit_applies_the_changes_with_the_cursor(st: &State) {
        assert!(st.seen_users("acme", &keys(&["u1"])).unwrap().is_empty());
        let page = SeenChanges {
            added: vec![
                ("u1".into(), seen("aa", 100)),
                ("u2".into(), seen("bb", 100)),
                ("u1".into(), seen("ab", 101)),
            ],
            forget_before: None,
        };
        st.commit_checkpoint("acme", AU, "p1", &page).unwrap();
        assert_eq!(st.cursor("acme", AU).unwrap().as_deref(), Some("p1"));
        let got = st.seen_users("acme", &keys(&["u1", "u2", "u3"])).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["u1"], seen("ab", 101), "the last entry of a key wins");
        assert_eq!(got["u2"], seen("bb", 100));
        assert_eq!(st.remembered_users("acme").unwrap(), 2);
        // Another integration remembers nobody.
        assert!(st.seen_users("other", &keys(&["u1"])).unwrap().is_empty());
        assert_eq!(st.remembered_users("other").unwrap(), 0);

        // The query's last page: a new version of u2, and the pruning of what was first seen
        // before 101 (u2's new version is kept, u1 at 101 is kept).
        let last = SeenChanges {
            added: vec![
                ("u2".into(), seen("bc", 200)),
                ("u4".into(), seen("dd", 50)),
            ],
            forget_before: Some(101),
        };
        st.commit_checkpoint("acme", AU, "p2", &last).unwrap();
        let got = st.seen_users("acme", &keys(&["u1", "u2", "u4"])).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got["u2"], seen("bc", 200));
        assert_eq!(st.cursor("acme", AU).unwrap().as_deref(), Some("p2"));

        // More keys than one statement looks up.
        let many: Vec<(String, Seen)> = (0..1_200)
            .map(|i| (format!("m{i}"), seen("x", 300)))
            .collect();
        let all: Vec<String> = many.iter().map(|(k, _)| k.clone()).collect();
        st.commit_checkpoint(
            "acme",
            AU,
            "p3",
            &SeenChanges {
                added: many,
                forget_before: None,
            },
        )
        .unwrap();
        assert_eq!(st.seen_users("acme", &all).unwrap().len(), 1_200);
        // No changes: only the cursor.
        st.commit_checkpoint("acme", AU, "p4", &SeenChanges::default())
            .unwrap();
        assert_eq!(st.cursor("acme", AU).unwrap().as_deref(), Some("p4"));
        assert_eq!(st.remembered_users("acme").unwrap(), 1_202);
    }

    fn the_cheap_stream_view_reads_no_checkpoint(st: &State) {
        st.save_cursor("a", AU, "a-position").unwrap();
        let r = st.run_started("a", AU, 10).unwrap();
        st.run_finished(r, 15, 0, 0, Some("boom")).unwrap();
        let full = st.streams(None).unwrap();
        let cheap = st.stream_runs(None).unwrap();
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].cursor.as_deref(), Some("a-position"));
        assert_eq!(cheap.len(), 1);
        assert_eq!(cheap[0].cursor, None);
        assert_eq!(cheap[0].last_run, full[0].last_run);
        assert_eq!(
            cheap[0].last_run.as_ref().and_then(|r| r.error.as_deref()),
            Some("boom")
        );
        assert!(st.stream_runs(Some("b")).unwrap().is_empty());
    }

    mod sqlite_backend {
        #[test]
        fn commit_applies_the_changes_with_the_cursor() {
            super::commit_applies_the_changes_with_the_cursor(
                &super::State::open_in_memory().unwrap(),
            );
        }

        #[test]
        fn the_cheap_stream_view_reads_no_checkpoint() {
            super::the_cheap_stream_view_reads_no_checkpoint(
                &super::State::open_in_memory().unwrap(),
            );
        }
    }

    mod postgres_backend {
        use super::*;
        use crate::state::postgres::leases::Me;
        use crate::state::tests::pg_state;
        use crate::state::LeaseBook;
        use std::sync::Arc;

        #[test]
        #[ignore = "needs PostgreSQL: scripts/test starts one"]
        fn a_commit_under_a_lost_lease_writes_neither_the_users_nor_the_cursor() {
            let st = pg_state("seen_fenced");
            let pg = st.postgres().unwrap().clone();
            let me = Me {
                name: "a".into(),
                instance: "1".into(),
            };
            let lease = std::time::Duration::from_secs(30);
            pg.register(&me, "host-a", lease).unwrap();
            let names = vec!["acme".to_string()];
            pg.ensure_leases(&names).unwrap();
            let got = pg.claim(&me, &names, 10, lease).unwrap();
            let book = Arc::new(LeaseBook::new("a"));
            st.use_leases(book.clone());
            book.hold("acme", got[0].epoch);
            let page = |k: &str| SeenChanges {
                added: vec![(k.into(), seen("aa", 1))],
                forget_before: None,
            };
            st.commit_checkpoint("acme", AU, "p1", &page("u1")).unwrap();
            // Another epoch holds the lease now (a takeover): the stale commit is refused whole.
            pg.run(|c| c.execute("UPDATE leases SET epoch = epoch + 1", &[]))
                .unwrap();
            let e = st
                .commit_checkpoint("acme", AU, "p2", &page("u2"))
                .unwrap_err();
            assert!(e.is_fenced(), "{e}");
            assert_eq!(st.cursor("acme", AU).unwrap().as_deref(), Some("p1"));
            let got = st.seen_users("acme", &keys(&["u1", "u2"])).unwrap();
            assert_eq!(got.keys().collect::<Vec<_>>(), vec!["u1"]);
        }

        #[test]
        #[ignore = "needs PostgreSQL: scripts/test starts one"]
        fn commit_applies_the_changes_with_the_cursor() {
            super::commit_applies_the_changes_with_the_cursor(&pg_state("seen_commit"));
        }

        #[test]
        #[ignore = "needs PostgreSQL: scripts/test starts one"]
        fn the_cheap_stream_view_reads_no_checkpoint() {
            super::the_cheap_stream_view_reads_no_checkpoint(&pg_state("seen_cheap"));
        }
    }
}
