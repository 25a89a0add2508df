//! Sources: the read side of each stream. A source fetches a page from Docusign, turns it into
//! records, and says what the stream's position after that page is, as a value
//! ([`Checkpoint`]). Sources never touch the state database or the sinks: the pipeline
//! delivers the records and commits the checkpoint, the same way for every stream.
//!
//! - `monitor`: customer events from the Monitor stream; the checkpoint is Docusign's cursor.
//! - `admin_users`: audit users from the Admin API, enriched from eSignature; the checkpoint is
//!   when the last complete query started (and the query under way's next page), plus what its
//!   page changes in the recognition set of users already emitted, which the source reads
//!   through a [`Recall`] the pipeline hands it (to recognise them when the next query's overlap
//!   returns them again).

pub mod admin_users;
pub mod monitor;

use crate::docusign::client::ApiError;
use crate::record::{EventType, Record};
use crate::state::{Seen, SeenChanges, StreamState};
use std::collections::HashMap;
use std::future::Future;

/// A stream position the pipeline commits once every sink accepted the records before it.
pub trait Checkpoint: Clone + Send + Sync + 'static {
    /// The text stored in the state database.
    fn encode(&self) -> String;
    /// Read a stored position; `None` when it is not one of this source's (never a panic).
    fn decode(text: &str) -> Option<Self>;
    /// One line for operators (`state`, the API): what the position means.
    fn describe(&self) -> String;
    /// What committing this position changes in the recognition set of audit users (applied
    /// with the position in one transaction); `None` for a stream that has none.
    fn seen_changes(&self) -> Option<&SeenChanges> {
        None
    }
}

/// The recognition set of audit users already emitted, read-only, as a source sees it: what the
/// pipeline committed, plus what the pages it holds and has not committed yet will add. The
/// pipeline implements it (a source never touches the state database); a failed read answers
/// "not remembered", and the pipeline then delivers nothing of that page and ends the cycle.
pub trait Recall: Send + Sync {
    /// The remembered versions of `keys` (keys not remembered are absent).
    fn recall(&self, keys: &[String]) -> HashMap<String, Seen>;
}

/// A [`Recall`] that remembers nobody (tests, and a query that must not consult the set).
pub struct RecallNothing;

impl Recall for RecallNothing {
    fn recall(&self, _keys: &[String]) -> HashMap<String, Seen> {
        HashMap::new()
    }
}

/// One page of a stream, ready for the sinks.
#[derive(Debug)]
pub struct SourcePage<C> {
    pub records: Vec<Record>,
    /// The position to commit once every sink accepted this page (and all before it); `None`
    /// when nothing may be committed yet (say in the middle of an unsorted query).
    pub checkpoint: Option<C>,
}

/// The read side of one stream for one cycle: pages until caught up.
pub trait Source: Send {
    type Checkpoint: Checkpoint;
    /// The next page, or `None` when the stream is caught up (the cycle ends).
    fn next_page(
        &mut self,
    ) -> impl Future<Output = Result<Option<SourcePage<Self::Checkpoint>>, ApiError>> + Send;
}

/// A stream's state for operators (`state`, the API): the stored position decoded into what it
/// means (`position`: a description and its parts), the run history as stored. The raw text of
/// an audit-user position is left out (earlier versions listed every remembered user in it).
pub fn stream_view(s: &StreamState) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    let position = s.cursor.as_deref().map(|text| match s.event_type {
        EventType::CustomerEvents => serde_json::json!({
            "description": monitor::MonitorCursor::decode(text).map(|c| c.describe()),
            "cursor": text,
        }),
        EventType::AuditUsers => match admin_users::AuditPosition::decode(text) {
            Some(p) => serde_json::json!({
                "description": p.describe(),
                "last_query_started": crate::record::format_time(p.started),
                // The set's rows, plus (until the next cycle moves them) an earlier version's.
                "remembered_users": s.remembered_users.unwrap_or(0) + p.seen.len() as u64,
                "query_under_way": p.query.as_ref().map(|q| serde_json::json!({
                    "started": crate::record::format_time(q.started),
                    "delivered_users": q.emitted.max(q.seen.len() as u64),
                })),
            }),
            None => serde_json::json!({"description": "unreadable: the next cycle starts from start_from"}),
        },
    });
    if s.event_type == EventType::AuditUsers {
        if let Some(o) = v.as_object_mut() {
            o.remove("cursor");
        }
    }
    v["position"] = position.unwrap_or(serde_json::Value::Null);
    v
}
