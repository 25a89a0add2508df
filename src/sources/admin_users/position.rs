//! The audit-user stream's position: when the last complete query started (by the collector's
//! clock, checked against Docusign's `Date` — eSignature's `modifiedDate` has no documented
//! format or zone and never sets a position), and, between two pages of a query, that query's
//! progress ([`QueryProgress`]), so a restart resumes the query at its next page.
//!
//! The users already emitted are not in the position: they are in the state's recognition set
//! (`state::Seen`, one row a user), and a position carries only what its page changes there
//! ([`AuditPosition::changes`], committed with it in one transaction, not part of its text). So
//! a position is a few hundred bytes whatever the organisation's size. Positions written by
//! earlier versions carry the users in `seen`; they are read, and the pipeline moves those users
//! into the set on first use ([`AuditPosition::take_legacy_users`]).

use super::super::Checkpoint;
use crate::record::format_time;
pub use crate::state::Seen;
use crate::state::SeenChanges;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the audit-user stream stands: after a complete query, and within the one under way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPosition {
    /// When the last complete query started (Unix seconds). The next query asks for users
    /// modified since this, less the configured overlap.
    pub started: i64,
    /// Earlier versions kept the users remembered for the overlap here. Read, moved to the
    /// recognition set on first use, and written empty (`{}`: an earlier version reading it
    /// remembers nobody, and emits the overlap's users once more rather than losing any).
    #[serde(default)]
    pub seen: BTreeMap<String, Seen>,
    /// The query under way, saved with each of its pages but the last (whose position has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QueryProgress>,
    /// What committing this position changes in the recognition set (not part of its text).
    #[serde(skip)]
    pub changes: SeenChanges,
}

/// A query part-way through: what it needs to go on at its next page after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryProgress {
    /// When the query started (collector clock, checked against Docusign's `Date`).
    pub started: i64,
    /// Its `last_modified_since` (Unix seconds).
    pub since: i64,
    /// The URL of its next Admin page (resumed only on the configured Admin origin).
    pub next: String,
    /// Users it has emitted so far.
    #[serde(default)]
    pub emitted: u64,
    /// Users its pages held so far (emitted or recognised).
    #[serde(default)]
    pub read: u64,
    /// The most users it reads: what its first page announced (`total_set_size`) plus a page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Earlier versions: the users it had emitted (read, moved to the set; written empty).
    #[serde(default)]
    pub seen: BTreeMap<String, Seen>,
}

/// The position stored by earlier versions: the greatest eSignature modification time seen.
#[derive(Deserialize)]
struct Legacy {
    since: i64,
}

impl AuditPosition {
    /// The users an earlier version kept in this position (the previous query's and the query
    /// under way's; the latter wins for a user in both), leaving the position without them:
    /// what the pipeline moves into the recognition set on first use.
    pub fn take_legacy_users(&mut self) -> Vec<(String, Seen)> {
        let mut users = std::mem::take(&mut self.seen);
        if let Some(q) = self.query.as_mut() {
            users.extend(std::mem::take(&mut q.seen));
        }
        users.into_iter().collect()
    }
}

impl Checkpoint for AuditPosition {
    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn decode(text: &str) -> Option<Self> {
        if let Ok(p) = serde_json::from_str::<AuditPosition>(text) {
            return Some(p);
        }
        // An earlier version's watermark: start from its time, remember nobody.
        serde_json::from_str::<Legacy>(text)
            .ok()
            .map(|l| AuditPosition {
                started: l.since,
                ..AuditPosition::default()
            })
    }

    fn describe(&self) -> String {
        let mut text = format!("last query started {}", format_time(self.started));
        if let Some(q) = &self.query {
            text.push_str(&format!(
                "; the query started {} is under way ({} users delivered, resumes at its next page)",
                format_time(q.started),
                q.emitted.max(q.seen.len() as u64)
            ));
        }
        text
    }

    fn seen_changes(&self) -> Option<&SeenChanges> {
        Some(&self.changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(d: &str, at: i64) -> Seen {
        Seen {
            digest: d.into(),
            at,
        }
    }

    #[test]
    fn round_trip_legacy_and_garbage() {
        let p = AuditPosition {
            started: 1_773_328_640,
            changes: SeenChanges {
                added: vec![("u1".into(), seen("00ff", 1_773_328_641))],
                forget_before: Some(1),
            },
            ..AuditPosition::default()
        };
        let text = p.encode();
        assert_eq!(
            text, r#"{"started":1773328640,"seen":{}}"#,
            "no users in the text"
        );
        assert_eq!(
            AuditPosition::decode(&text),
            Some(AuditPosition {
                changes: SeenChanges::default(),
                ..p.clone()
            })
        );
        assert_eq!(p.describe(), "last query started 2026-03-12T15:17:20Z");
        let legacy = AuditPosition::decode(r#"{"since":1700000000,"seen":["u1@1700000000"]}"#);
        assert_eq!(
            legacy.map(|l| (l.started, l.seen.len())),
            Some((1_700_000_000, 0))
        );
        let under_way = AuditPosition {
            query: Some(QueryProgress {
                started: 1_773_329_000,
                since: 1_773_328_640 - 300,
                next: "https://admin.example/v2/organizations/o/users?start=250".into(),
                emitted: 250,
                read: 250,
                limit: Some(1_250),
                seen: BTreeMap::new(),
            }),
            ..AuditPosition::default()
        };
        assert_eq!(
            AuditPosition::decode(&under_way.encode()),
            Some(under_way.clone())
        );
        assert!(under_way.encode().len() < 300, "{}", under_way.encode());
        assert!(under_way.describe().ends_with(
            "; the query started 2026-03-12T15:23:20Z is under way (250 users delivered, resumes at its next page)"
        ));
        // A position without a query is written as before (an earlier version reads it).
        assert!(!p.encode().contains("query"));
        assert_eq!(AuditPosition::decode("not json"), None);
        assert_eq!(AuditPosition::decode("aa_1_2_3"), None);
    }

    #[test]
    fn an_earlier_versions_users_are_taken_out_once() {
        // As earlier versions wrote it: the previous query's users, and the query under way's.
        let text = r#"{"started":100,"seen":{"u1":{"digest":"a","at":90},"u2":{"digest":"b","at":95}},
            "query":{"started":400,"since":-200,"next":"https://h/x?start=2","seen":{"u2":{"digest":"c","at":401},"u3":{"digest":"d","at":402}}}}"#;
        let mut p = AuditPosition::decode(text).expect("an earlier version's position is read");
        assert!(
            p.describe().contains("(2 users delivered"),
            "{}",
            p.describe()
        );
        let mut users = p.take_legacy_users();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            users,
            vec![
                ("u1".to_string(), seen("a", 90)),
                ("u2".to_string(), seen("c", 401)),
                ("u3".to_string(), seen("d", 402)),
            ]
        );
        assert!(p.take_legacy_users().is_empty());
        let q = p.query.as_ref().unwrap();
        assert_eq!(
            (q.started, q.since, q.next.as_str()),
            (400, -200, "https://h/x?start=2")
        );
        assert!(p.encode().len() < 200, "{}", p.encode());
    }
}
