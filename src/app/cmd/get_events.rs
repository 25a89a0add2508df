//! `get-events`: fetch and print events as JSON lines, through the same pipeline as a cycle but
//! to stdout only: no sink, no checkpoint saved, at most `--limit` events.

use crate::app::setup::{load_config, load_registry, open_state, select, signal_shutdown, Failure};
use crate::integrations::Integration;
use crate::record::EventType;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(
    config: Option<&Path>,
    integration: &str,
    event_type: EventType,
    limit: usize,
    from: Option<&str>,
) -> Result<ExitCode, Failure> {
    let cfg = load_config(config)?;
    let state = open_state(&cfg)?;
    let registry = load_registry(&cfg, &state)?;
    let integ = select(&registry, Some(integration))?[0].clone();
    get_events(&integ, event_type, limit, from).await
}

/// Start at `--from` (a lookback such as "1h", or an RFC 3339 time), else where the
/// integration's `start_from` says, and print at most `limit` events.
async fn get_events(
    integ: &Integration,
    et: EventType,
    limit: usize,
    from: Option<&str>,
) -> Result<ExitCode, Failure> {
    let now = crate::support::clock::now_unix();
    let since = match from {
        Some(f) => {
            if let Ok(d) = humantime::parse_duration(f) {
                crate::config::StartFrom::Lookback(d).resolve(now)
            } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(f) {
                t.timestamp()
            } else {
                return Err(Failure::runtime(format!(
                    "--from {f:?}: write a lookback (\"1h\") or an RFC 3339 time"
                )));
            }
        }
        None => match et {
            EventType::CustomerEvents => integ.config.customer_events.start_from.resolve(now),
            EventType::AuditUsers => integ.config.audit_users.start_from.resolve(now),
        },
    };
    let stats = crate::pipeline::preview(integ, et, since, limit, &signal_shutdown()).await?;
    tracing::info!(events = stats.events, "get-events done (no cursor saved)");
    Ok(ExitCode::SUCCESS)
}
