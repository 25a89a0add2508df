//! Monitor API: `GET /api/v2.0/datasets/monitor/stream` and `GET /v1/organizations/{org}/stream`
//! (the newer endpoint: events under `resultData`, with the flattened fields of `StreamingEventRow`).
//!
//! A cursor is a position in the ingestion-ordered event list. Opaque cursors read
//! `aa_<net ticks>_<net ticks>_<position>`, where the ticks are the .NET ingestion time of the event
//! just before the position (0 at position 0); the simulator rejects one whose ticks do not match.

use crate::core::Sim;
use crate::data::{self, NET_EPOCH_TICKS, TICKS_PER_SEC};
use crate::http::{Ctx, Resp};
use crate::knobs::Api;
use crate::{events, oauth};

const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 2000;

/// The opaque cursor for `pos` (events before `pos` are behind it).
fn encode(events: &[i64], pos: usize) -> String {
    let ticks = if pos == 0 {
        0
    } else {
        events[pos - 1] + NET_EPOCH_TICKS
    };
    format!("aa_{ticks}_{ticks}_{pos}")
}

/// The position an opaque cursor stands for.
fn decode(events: &[i64], cursor: &str) -> Option<usize> {
    let rest = cursor.strip_prefix("aa_")?;
    let mut parts = rest.split('_');
    let (a, b, p) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || a != b {
        return None;
    }
    let pos: usize = p.parse().ok()?;
    if pos > events.len() || encode(events, pos) != cursor {
        return None;
    }
    Some(pos)
}

fn bad_request(message: &str) -> Resp {
    Resp::error(400, "INVALID_REQUEST_PARAMETER", message)
}

/// Serve one page; `org` is `Some` for the v1 endpoint (events under `resultData`).
pub(crate) fn stream(sim: &Sim, ctx: &Ctx, org: Option<&str>) -> Resp {
    if let Err(r) = oauth::authorize(
        sim,
        ctx,
        &["signature", "impersonation"],
        Some(Api::Monitor),
    ) {
        return r;
    }
    if let Some(org) = org {
        if org != sim.cfg.organization_id {
            return Resp::error(
                404,
                "ORGANIZATION_NOT_FOUND",
                &format!("Organization '{org}' does not exist or Monitor is not enabled for it."),
            );
        }
    }
    let limit = match ctx.param("limit").filter(|l| !l.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return bad_request(&format!(
                    "The 'limit' parameter must be an integer from 1 to {MAX_LIMIT}; got '{l}'."
                ))
            }
        },
    };
    let cursor = ctx.param("cursor").unwrap_or("");
    let events = sim.events_read();
    let start = if cursor.is_empty() {
        let since = data::now_ticks() - 7 * 86_400 * TICKS_PER_SEC;
        events.partition_point(|t| *t < since)
    } else if let Some(pos) = decode(&events, cursor) {
        pos
    } else if let Some(t) = data::parse_iso_ticks(cursor) {
        events.partition_point(|e| *e < t)
    } else {
        return bad_request(&format!(
            "The 'cursor' parameter '{cursor}' is not a valid cursor or ISO 8601 time."
        ));
    };
    let end = (start + limit).min(events.len());
    let end_cursor = if end == start && !cursor.is_empty() {
        cursor.to_string()
    } else {
        encode(&events, end)
    };
    let key = if org.is_some() { "resultData" } else { "data" };
    let mut body = String::with_capacity(64 + (end - start) * 900);
    body.push_str("{\"endCursor\":");
    body.push_str(&serde_json::to_string(&end_cursor).unwrap_or_else(|_| "\"\"".into()));
    body.push_str(",\"");
    body.push_str(key);
    body.push_str("\":[");
    for (i, ingest) in events[start..end].iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let index = (start + i) as u64;
        events::render_event(&mut body, &sim.event_ctx, index, *ingest, org.is_some());
    }
    body.push_str("]}");
    drop(events);
    sim.bump(|s| s.events_served += (end - start) as u64);
    Resp::raw_json(200, body.into_bytes())
}
