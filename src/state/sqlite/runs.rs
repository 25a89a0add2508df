//! Run history in SQLite.

use crate::record::EventType;
use crate::state::runs::{to_i64, to_u64};
use crate::state::{RunRecord, StateError, StreamState, RUNS_KEPT};
use rusqlite::{params, Connection, OptionalExtension};

const RUN_COLUMNS: &str = "id, integration, event_type, started_at, ended_at, events, pages, error";

/// Reads a `runs` row selected with [`RUN_COLUMNS`]; `None` for an unknown event type.
fn run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<RunRecord>> {
    let et: String = row.get(2)?;
    let Some(event_type) = EventType::parse(&et) else {
        return Ok(None);
    };
    Ok(Some(RunRecord {
        id: row.get(0)?,
        integration: row.get(1)?,
        event_type,
        started_at: row.get(3)?,
        ended_at: row.get(4)?,
        events: to_u64(row.get(5)?),
        pages: to_u64(row.get(6)?),
        error: row.get(7)?,
    }))
}

/// Record the start of a run and return its id; keeps only the last [`RUNS_KEPT`] runs
/// of the stream.
pub(super) fn started(
    conn: &mut Connection,
    integration: &str,
    et: EventType,
    started_at: i64,
) -> Result<i64, StateError> {
    let tx = conn.transaction()?;
    tx.execute(
            "INSERT INTO runs (integration, event_type, started_at, events, pages) VALUES (?1, ?2, ?3, 0, 0)",
            params![integration, et.as_str(), started_at],
        )?;
    let id = tx.last_insert_rowid();
    tx.execute(
            "DELETE FROM runs WHERE integration = ?1 AND event_type = ?2 AND id NOT IN
               (SELECT id FROM runs WHERE integration = ?1 AND event_type = ?2 ORDER BY id DESC LIMIT ?3)",
            params![integration, et.as_str(), to_i64(RUNS_KEPT as u64)],
        )?;
    tx.commit()?;
    Ok(id)
}

/// Record the end of a run (`error` is `None` for a successful run). An id that no
/// longer exists (pruned) is ignored.
pub(super) fn finished(
    conn: &Connection,
    run_id: i64,
    ended_at: i64,
    events: u64,
    pages: u64,
    error: Option<&str>,
) -> Result<(), StateError> {
    let n = conn.execute(
        "UPDATE runs SET ended_at = ?2, events = ?3, pages = ?4, error = ?5 WHERE id = ?1",
        params![run_id, ended_at, to_i64(events), to_i64(pages), error],
    )?;
    if n == 0 {
        tracing::debug!(run_id, "run_finished for a run that is no longer recorded");
    }
    Ok(())
}

/// The latest runs of a stream, newest first.
pub(super) fn recent(
    conn: &Connection,
    integration: &str,
    et: EventType,
    limit: usize,
) -> Result<Vec<RunRecord>, StateError> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE integration = ?1 AND event_type = ?2
             ORDER BY id DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![integration, et.as_str(), to_i64(limit as u64)],
        run_from_row,
    )?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(run) = r? {
            out.push(run);
        }
    }
    Ok(out)
}

/// One entry per (integration, event type) with a cursor or a run, sorted by integration
/// then event type; `Some(name)` restricts to one integration. `full`: with the checkpoints and
/// the count of remembered audit users (else only the runs, which is what readiness reads).
pub(super) fn streams(
    conn: &Connection,
    integration: Option<&str>,
    full: bool,
) -> Result<Vec<StreamState>, StateError> {
    let mut keys: Vec<(String, EventType)> = Vec::new();
    {
        let mut stmt = conn.prepare(
                "SELECT integration, event_type FROM cursors WHERE ?1 IS NULL OR integration = ?1
                 UNION SELECT integration, event_type FROM runs WHERE ?1 IS NULL OR integration = ?1",
            )?;
        let rows = stmt.query_map(params![integration], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for r in rows {
            let (name, et) = r?;
            if let Some(et) = EventType::parse(&et) {
                keys.push((name, et));
            }
        }
    }
    keys.sort();
    keys.dedup();
    let mut out = Vec::with_capacity(keys.len());
    let last_run_sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE integration = ?1 AND event_type = ?2
             ORDER BY id DESC LIMIT 1"
    );
    for (name, et) in keys {
        let cur: Option<(Option<String>, i64)> = conn
            .query_row(
                "SELECT CASE WHEN ?3 THEN cursor END, updated_at FROM cursors WHERE integration = ?1 AND event_type = ?2",
                params![name, et.as_str(), full],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let remembered_users = match (full, et) {
            (true, EventType::AuditUsers) => Some(to_u64(conn.query_row(
                "SELECT count(*) FROM audit_users_seen WHERE integration = ?1",
                params![name],
                |r| r.get(0),
            )?)),
            _ => None,
        };
        let last_run = conn
            .query_row(&last_run_sql, params![name, et.as_str()], run_from_row)
            .optional()?
            .flatten();
        let last_success_at: Option<i64> = conn
            .query_row(
                "SELECT ended_at FROM runs WHERE integration = ?1 AND event_type = ?2
                       AND error IS NULL AND ended_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                params![name, et.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let (cursor, cursor_updated_at) = match cur {
            Some((c, t)) => (c, Some(t)),
            None => (None, None),
        };
        out.push(StreamState {
            integration: name,
            event_type: et,
            cursor,
            cursor_updated_at,
            last_run,
            last_success_at,
            remembered_users,
        });
    }
    Ok(out)
}
