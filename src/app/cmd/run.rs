//! `run`: the daemon. Every active integration's event types on their intervals, until SIGTERM
//! or SIGINT; the wiring is in [`daemon`](crate::app::daemon).

use crate::app::daemon::run_daemon;
use crate::app::setup::{
    build_collector, load_config, lock_collection, open_state, signal_shutdown, Failure,
};
use std::path::Path;
use std::process::ExitCode;

pub async fn run(config: Option<&Path>) -> Result<ExitCode, Failure> {
    let cfg = load_config(config)?;
    // Held until the daemon returns: one collecting process per SQLite state file.
    let _lock = lock_collection(&cfg)?;
    let state = open_state(&cfg)?;
    let collector = build_collector(&cfg, state)?;
    run_daemon(collector, &cfg, signal_shutdown())
        .await
        .map_err(Failure::runtime)
}
