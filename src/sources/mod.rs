//! Sources: the read side of each stream. A source fetches a page from Docusign, turns it into
//! records, and says what the stream's position after that page is, as a value
//! ([`Checkpoint`]). Sources never touch the state database or the sinks: the pipeline
//! delivers the records and commits the checkpoint, the same way for every stream.
//!
//! - `monitor`: customer events from the Monitor stream; the checkpoint is Docusign's cursor.
//! - `admin_users`: audit users from the Admin API, enriched from eSignature; the checkpoint is
//!   when the last complete query started, plus the users it returned (to recognise them when
//!   the next query's overlap returns them again).

pub mod admin_users;
pub mod monitor;

use crate::docusign::client::ApiError;
use crate::record::{EventType, Record};
use crate::state::StreamState;
use std::future::Future;

/// A stream position the pipeline commits once every sink accepted the records before it.
pub trait Checkpoint: Clone + Send + Sync + 'static {
    /// The text stored in the state database.
    fn encode(&self) -> String;
    /// Read a stored position; `None` when it is not one of this source's (never a panic).
    fn decode(text: &str) -> Option<Self>;
    /// One line for operators (`state`, the API): what the position means.
    fn describe(&self) -> String;
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
/// an audit-user position (it lists the users remembered for the overlap) is left out.
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
                "remembered_users": p.seen.len(),
                "query_under_way": p.query.as_ref().map(|q| serde_json::json!({
                    "started": crate::record::format_time(q.started),
                    "delivered_users": q.seen.len(),
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
