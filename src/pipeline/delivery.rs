//! Delivery of one page to every sink, remembering which sinks accepted it while another failed.
//!
//! Invariant: a sink is spared a page only when it accepted a page with the same identity — a
//! digest of the page's records, byte for byte — so skipping it can never lose a record. A
//! retry that reads other records at the same position (the Admin API does not sort) is
//! delivered again; one whose bytes differ only in a collection-time `_time` is a duplicate,
//! never a loss.

use super::CycleError;
use crate::record::{Batch, EventType, Record};
use crate::sinks::Sinks;
use crate::state::State;
use crate::telemetry::events::SinkFailed;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// State key under which a sink's acceptance of a page is remembered while another sink failed.
///
/// Invariant: no two sinks share a key. The key is per integration (`State::set_value`'s first
/// argument), the event type's name holds no dot, and sink names are unique (validation refuses
/// two sinks with one effective name, and `Sinks::new` refuses to hold them), so
/// `ack.{event type}.{sink}` names one sink even when its name holds dots.
fn ack_key(sink: &str, et: EventType) -> String {
    format!("ack.{}.{sink}", et.as_str())
}

/// What identifies a page across retries: what it holds.
pub fn page_identity(records: &[Record]) -> String {
    let mut h = Sha256::new();
    for r in records {
        h.update(r.json.as_bytes());
        h.update([b'\n']);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deliver a page to every sink. When some sinks fail, the ones that
/// accepted remember its identity in `state`, and a retry of the same page skips them: a healthy
/// sink gets no duplicates while another one is failing. Without `state` (a preview that commits
/// nothing) nothing is remembered.
pub async fn deliver_page(
    sinks: &Sinks,
    state: Option<&State>,
    batch: Arc<Batch>,
) -> Result<(), CycleError> {
    let et = batch.event_type;
    // With one sink there is no other sink to spare a re-send: no acknowledgements to keep.
    let track = state.filter(|_| sinks.len() > 1);
    let identity = track.map(|_| page_identity(&batch.records));
    let mut pending = Vec::with_capacity(sinks.len());
    for s in sinks.as_slice() {
        let accepted = match (track, &identity) {
            (Some(state), Some(id)) => {
                state
                    .get_value(&batch.integration, &ack_key(s.name(), et))?
                    .as_deref()
                    == Some(id.as_str())
            }
            _ => false,
        };
        if accepted {
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
            if let (Some(state), Some(id)) = (track, &identity) {
                for sink in accepted {
                    state.set_value(&batch.integration, &ack_key(sink.name(), et), id)?;
                }
            }
            Err(e.into())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> Record {
        Record {
            json: s.into(),
            time: 0,
        }
    }

    #[test]
    fn identity_changes_with_any_record() {
        let a = page_identity(&[rec("{\"id\":1}"), rec("{\"id\":2}")]);
        assert_eq!(a, page_identity(&[rec("{\"id\":1}"), rec("{\"id\":2}")]));
        assert_ne!(a, page_identity(&[rec("{\"id\":2}"), rec("{\"id\":1}")]));
        assert_ne!(a, page_identity(&[rec("{\"id\":1}")]));
        assert_ne!(a, page_identity(&[rec("{\"id\":1}{\"id\":2}")]));
        assert_eq!(a.len(), 32);
    }
}
