//! Fault injection for crash-safety tests.
//!
//! `DOCUSIGN_COLLECTOR_FAULT=<point>:<n>` makes the process abort (as if killed) the `n`th time
//! execution reaches `<point>`. Unset, every check is one relaxed atomic load. Points:
//! - `after_sink_write`: every sink accepted a page, its cursor is not saved yet;
//! - `mid_file_write`: the file sink has written half of a batch (a torn last line);
//! - `panic_in_cycle`: a cycle has recorded its start in the run history; this one panics
//!   instead of aborting (the stream's task dies, the process lives: supervision tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn spec() -> &'static Option<(String, u64)> {
    SPEC.get_or_init(|| {
        let raw = std::env::var("DOCUSIGN_COLLECTOR_FAULT").ok()?;
        let (point, n) = raw.split_once(':')?;
        Some((point.to_string(), n.parse().ok()?))
    })
}

/// True when the configured fault fires at `point` now (the caller then aborts).
pub fn hit(point: &str) -> bool {
    match spec() {
        Some((p, n)) if p == point => HITS.fetch_add(1, Ordering::Relaxed) + 1 == *n,
        _ => false,
    }
}

/// Abort the process the way `kill -9` would: no destructors, no flush.
pub fn crash(point: &str) -> ! {
    eprintln!("fault injection: aborting at {point}");
    std::process::abort()
}
