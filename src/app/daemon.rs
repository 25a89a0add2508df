//! The daemon's wiring: the scheduler, configuration reload on SIGHUP, (with PostgreSQL) the
//! cluster's leases and (when configured) the local API, until shutdown.

use crate::cluster::Cluster;
use crate::config::Config;
use crate::pipeline::scheduler;
use crate::pipeline::Collector;
use crate::support::shutdown::Shutdown;
use std::process::ExitCode;
use std::sync::Arc;

/// Run the scheduler (and the local API when configured) until `shutdown`, then give the
/// streams up to `shutdown_timeout` to finish their pages.
pub async fn run_daemon(
    collector: Arc<Collector>,
    cfg: &Config,
    shutdown: Shutdown,
) -> Result<ExitCode, String> {
    // Key and token files others can read: warned about (by path and mode), not refused.
    crate::support::credentials::warn_readable_by_others(&cfg.secret_files());
    let (control, control_rx) = scheduler::control_channel();
    // With PostgreSQL, join the replicas before anything collects: from here on every write is
    // fenced by this replica's leases, and the scheduler starts only what the cluster claims.
    let cluster = Cluster::join(cfg, &collector.state).map_err(|e| e.to_string())?;
    let (cluster_done, cluster_task) = match &cluster {
        Some(c) => {
            let (trigger, done) = Shutdown::new();
            let task = tokio::spawn(c.clone().run(
                collector.clone(),
                control.clone(),
                shutdown.clone(),
                done,
            ));
            (Some(trigger), Some(task))
        }
        None => (None, None),
    };
    // Installed before anything runs: SIGHUP's default action would end the process.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let hangups = signal(SignalKind::hangup())
            .map_err(|e| format!("cannot listen for SIGHUP (configuration reload): {e}"))?;
        tokio::spawn(crate::app::reload::on_sighup(
            collector.clone(),
            cfg.clone(),
            control.clone(),
            hangups,
            shutdown.clone(),
        ));
    }
    if let Some(api) = &cfg.api {
        // The API shows this replica's membership on `/readyz`.
        crate::api::spawn(
            api,
            collector.clone(),
            cluster.clone(),
            control,
            shutdown.clone(),
        )
        .await?;
    } else {
        drop(control);
    }
    let sched = tokio::spawn(scheduler::run(collector, shutdown.clone(), control_rx));
    shutdown.wait().await;
    let grace = cfg.shutdown_timeout.0;
    match tokio::time::timeout(grace, sched).await {
        Ok(_) => tracing::info!("stopped"),
        Err(_) => tracing::warn!(
            "streams did not stop within {}; exiting with cursors at the last accepted page",
            humantime::format_duration(grace)
        ),
    }
    // The last commits are made: give the leases back so other replicas take over at once.
    if let (Some(done), Some(task)) = (cluster_done, cluster_task) {
        done.fire();
        let _ = task.await;
    }
    Ok(ExitCode::SUCCESS)
}
