//! The one pipeline every stream runs: fetch ahead (a bounded channel of pages), deliver each
//! page to every sink, then commit the page's checkpoint.
//!
//! Invariant: a checkpoint is committed only after every sink accepted the records of its page
//! and of every page before it (pages are delivered and committed in order, one at a time).
//! A crash at any point re-delivers at most the pages in flight and loses nothing.

use super::delivery::deliver_page;
use super::recall::PageRecall;
use super::{CycleError, CycleStats};
use crate::record::{Batch, EventType};
use crate::sinks::SwappableSinks;
use crate::sources::{Checkpoint, Source, SourcePage};
use crate::state::State;
use crate::support::shutdown::Shutdown;
use crate::telemetry::events::{PageFetched, PageInFlight};
use crate::telemetry::stream_delivered;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Pages fetched ahead of delivery.
pub const PAGES_IN_FLIGHT: usize = 2;

/// Where a stream's pages go.
pub struct Target<'a> {
    pub integration: &'a str,
    pub event_type: EventType,
    /// Read once per page: a reload's new sinks take over between pages.
    pub sinks: &'a SwappableSinks,
    /// Where checkpoints (and sink acceptances) are kept; `None` for a preview that commits
    /// nothing (`get-events`).
    pub state: Option<&'a State>,
    /// Stop after this many records (a preview).
    pub limit: Option<usize>,
    /// The recognition set the source reads (audit users): each page's changes are registered
    /// when the page is handed over and dropped once it is committed.
    pub recall: Option<Arc<PageRecall>>,
}

/// Run `source` until it is caught up, the limit is reached, or `shutdown` fires.
pub async fn drain<S: Source>(
    mut source: S,
    target: Target<'_>,
    shutdown: &Shutdown,
) -> Result<CycleStats, CycleError> {
    // Each page travels with its in-flight guard: the gauge counts it until it is committed
    // (or dropped on an error or shutdown).
    let (tx, mut rx) = mpsc::channel::<(SourcePage<S::Checkpoint>, PageInFlight)>(PAGES_IN_FLIGHT);
    let (integration, event_type) = (target.integration, target.event_type);
    let stop = shutdown.clone();
    let recall = target.recall.clone();
    let fetcher = async move {
        loop {
            if stop.is_triggered() {
                return Ok(());
            }
            // A fetch (perhaps waiting for the rate budget) is abandoned on shutdown:
            // nothing of it was delivered, so nothing is lost.
            let page = tokio::select! {
                page = source.next_page() => page?,
                _ = stop.wait() => return Ok(()),
            };
            let Some(page) = page else {
                return Ok::<(), CycleError>(());
            };
            if let Some(recall) = &recall {
                // A page built on a failed lookup of the recognition set is not delivered.
                recall.failure()?;
                if let Some(changes) = page.checkpoint.as_ref().and_then(|c| c.seen_changes()) {
                    recall.handed_over(changes);
                }
            }
            let in_flight = PageFetched {
                integration,
                event_type,
            }
            .emit();
            if tx.send((page, in_flight)).await.is_err() {
                return Ok(());
            }
        }
    };
    let deliverer = async move {
        let mut stats = CycleStats::default();
        let mut left = target.limit;
        while let Some((page, _in_flight)) = rx.recv().await {
            let mut records = page.records;
            if let Some(left) = left {
                records.truncate(left);
            }
            let events = records.len();
            let newest = records.iter().map(|r| r.time).max();
            if events > 0 {
                let batch = Arc::new(Batch {
                    integration: target.integration.to_string(),
                    event_type: target.event_type,
                    records,
                });
                deliver_page(&target.sinks.current(), target.state, batch).await?;
            }
            if crate::support::fault::hit("after_sink_write") {
                crate::support::fault::crash("after_sink_write");
            }
            if let (Some(state), Some(checkpoint)) = (target.state, &page.checkpoint) {
                // The position and what it changes in the recognition set: one transaction.
                match checkpoint.seen_changes() {
                    Some(changes) => {
                        state.commit_checkpoint(
                            target.integration,
                            target.event_type,
                            &checkpoint.encode(),
                            changes,
                        )?;
                        if let Some(recall) = &target.recall {
                            recall.committed();
                        }
                    }
                    None => state.save_cursor(
                        target.integration,
                        target.event_type,
                        &checkpoint.encode(),
                    )?,
                }
            }
            if let Some(t) = newest {
                stream_delivered(integration, event_type, t);
            }
            stats.page_delivered(integration, event_type, events as u64);
            tracing::debug!(integration = %target.integration, event_type = %target.event_type, events, "page delivered");
            if let Some(l) = left.as_mut() {
                *l -= events;
                if *l == 0 {
                    break;
                }
            }
        }
        Ok::<CycleStats, CycleError>(stats)
    };
    // The deliverer owns `rx`: if it stops, the fetcher's next send fails and it stops.
    let (fetched, delivered) = tokio::join!(fetcher, deliverer);
    let stats = delivered?;
    fetched?;
    Ok(stats)
}
