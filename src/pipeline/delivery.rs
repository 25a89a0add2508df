//! Delivery of one batch to every sink, remembering which sinks accepted it while another failed.

use super::CycleError;
use crate::record::{Batch, EventType};
use crate::sinks::Sink;
use crate::state::State;
use crate::telemetry::events::SinkFailed;
use std::sync::Arc;

/// State key under which a sink's acceptance of a page is remembered while another sink failed.
fn ack_key(sink: &str, et: EventType) -> String {
    format!("ack.{}.{sink}", et.as_str())
}

/// Deliver a page (identified by its end cursor) to every sink. When some sinks fail, the ones
/// that accepted remember it, and the retry of the same page skips them: a healthy sink gets
/// no duplicates while another one is failing.
pub async fn deliver_page(
    sinks: &[Arc<dyn Sink>],
    state: &State,
    batch: Arc<Batch>,
    end_cursor: &str,
) -> Result<(), CycleError> {
    let et = batch.event_type;
    // With one sink there is no other sink to spare a re-send: no acknowledgements to keep.
    let track = sinks.len() > 1;
    let mut pending = Vec::with_capacity(sinks.len());
    for s in sinks {
        if track
            && state
                .get_value(&batch.integration, &ack_key(s.name(), et))?
                .as_deref()
                == Some(end_cursor)
        {
            tracing::debug!(
                sink = s.name(),
                "sink already accepted this page; not sending it again"
            );
        } else {
            pending.push(s.clone());
        }
    }
    let results =
        futures_util::future::join_all(pending.iter().map(|s| s.deliver(batch.clone()))).await;
    let mut accepted = Vec::new();
    let mut first_error = None;
    for (sink, r) in pending.iter().zip(results) {
        match r {
            Ok(()) => accepted.push(sink),
            Err(e) => {
                SinkFailed {
                    sink: sink.name(),
                    error: &e,
                }
                .emit();
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => {
            if track {
                for sink in accepted {
                    state.set_value(&batch.integration, &ack_key(sink.name(), et), end_cursor)?;
                }
            }
            Err(e.into())
        }
        None => Ok(()),
    }
}
