//! The audit-user stream's position: when the last complete query started (by the collector's
//! own clock — eSignature's `modifiedDate` has no documented format or zone and never sets a
//! position), and the users that query saw, so that the next query's overlap does not emit them
//! again unless they changed. Between two pages of a query it also holds that query's progress
//! ([`QueryProgress`]), so a restart resumes the query at its next page.

use super::super::Checkpoint;
use crate::record::format_time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A user already emitted: the digest of what Docusign said, and when the collector first saw
/// that version (Unix seconds, collector clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub digest: String,
    pub at: i64,
}

/// Where the audit-user stream stands: after a complete query, and within the one under way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPosition {
    /// When the last complete query started (Unix seconds). The next query asks for users
    /// modified since this, less the configured overlap.
    pub started: i64,
    /// Users seen by the collector recently enough that the next query may return them again.
    pub seen: BTreeMap<String, Seen>,
    /// The query under way, saved with each of its pages but the last (whose position has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QueryProgress>,
}

/// A query part-way through: what it needs to go on at its next page after a restart. When it
/// ends, its `started` and `seen` become the position's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryProgress {
    /// When the query started (collector clock).
    pub started: i64,
    /// Its `last_modified_since` (Unix seconds).
    pub since: i64,
    /// The URL of its next Admin page (resumed only on the configured Admin origin).
    pub next: String,
    /// The users it has emitted so far.
    pub seen: BTreeMap<String, Seen>,
}

/// The position stored by earlier versions: the greatest eSignature modification time seen.
#[derive(Deserialize)]
struct Legacy {
    since: i64,
}

impl AuditPosition {
    /// Whether this exact version of user `id` was already emitted.
    pub fn already_emitted(&self, id: &str, digest: &str) -> Option<&Seen> {
        self.seen.get(id).filter(|s| s.digest == digest)
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
        let mut text = format!(
            "last query started {}, {} users remembered for the overlap",
            format_time(self.started),
            self.seen.len()
        );
        if let Some(q) = &self.query {
            text.push_str(&format!(
                "; the query started {} is under way ({} users delivered, resumes at its next page)",
                format_time(q.started),
                q.seen.len()
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_legacy_and_garbage() {
        let p = AuditPosition {
            started: 1_773_328_640,
            seen: BTreeMap::from([(
                "u1".to_string(),
                Seen {
                    digest: "00ff".into(),
                    at: 1_773_328_641,
                },
            )]),
            query: None,
        };
        assert_eq!(AuditPosition::decode(&p.encode()), Some(p.clone()));
        assert!(p.already_emitted("u1", "00ff").is_some());
        assert!(p.already_emitted("u1", "00fe").is_none());
        assert!(p.already_emitted("u2", "00ff").is_none());
        assert_eq!(
            p.describe(),
            "last query started 2026-03-12T15:17:20Z, 1 users remembered for the overlap"
        );
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
                seen: p.seen.clone(),
            }),
            ..p.clone()
        };
        assert_eq!(
            AuditPosition::decode(&under_way.encode()),
            Some(under_way.clone())
        );
        assert!(under_way.describe().ends_with(
            "; the query started 2026-03-12T15:23:20Z is under way (1 users delivered, resumes at its next page)"
        ));
        // A position without a query is written as before (an earlier version reads it).
        assert!(!p.encode().contains("query"));
        assert_eq!(AuditPosition::decode("not json"), None);
        assert_eq!(AuditPosition::decode("aa_1_2_3"), None);
    }
}
