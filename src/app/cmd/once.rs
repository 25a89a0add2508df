//! `once`: one collection cycle for every active integration and event type, then exit (0 when
//! all succeeded). Beside running replicas it collects only what none of them holds
//! ([`Cluster::join_for_once`]).

use crate::app::setup::{
    build_collector, exit_code, load_config, lock_collection, open_state, signal_shutdown, Failure,
};
use crate::cluster::Cluster;
use crate::pipeline::scheduler;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(config: Option<&Path>) -> Result<ExitCode, Failure> {
    let cfg = load_config(config)?;
    let _lock = lock_collection(&cfg)?;
    let state = open_state(&cfg)?;
    let collector = build_collector(&cfg, state)?;
    let cluster = Cluster::join_for_once(&cfg, &collector)
        .await
        .map_err(Failure::runtime)?;
    let ok = scheduler::once(collector.clone(), signal_shutdown()).await;
    // The leases go back at once, so the replicas need not wait for them to expire.
    if let Some(c) = &cluster {
        c.leave().await;
    }
    Ok(exit_code(ok))
}
