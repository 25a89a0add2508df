//! The daemon's wiring: the scheduler, configuration reload on SIGHUP and (when configured) the
//! local API, until shutdown.

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
    let (control, control_rx) = scheduler::control_channel();
    // Installed before anything runs: SIGHUP's default action would end the process.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let hangups = signal(SignalKind::hangup())
            .map_err(|e| format!("cannot listen for SIGHUP (configuration reload): {e}"))?;
        tokio::spawn(crate::reload::on_sighup(
            collector.clone(),
            cfg.clone(),
            control.clone(),
            hangups,
            shutdown.clone(),
        ));
    }
    if let Some(api) = &cfg.api {
        crate::api::spawn(api, collector.clone(), control, shutdown.clone()).await?;
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
    Ok(ExitCode::SUCCESS)
}
