//! Sources: the read side of each stream. A source fetches a page from Docusign, turns it into
//! records, and says what the stream's position after that page is, as a value
//! ([`Checkpoint`]). Sources never touch the state database or the sinks: the pipeline
//! (`crate::pipeline`) delivers the records and commits the checkpoint, the same way for every
//! stream.
//!
//! - `monitor`: customer events from the Monitor stream; the checkpoint is Docusign's cursor.
//! - `admin_users`: audit users from the Admin API, enriched from eSignature; the checkpoint is
//!   when the last complete query started, plus the users it returned (to recognise them when
//!   the next query's overlap returns them again).

pub mod admin_users;
pub mod monitor;

use crate::docusign::client::ApiError;
use crate::record::Record;
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
