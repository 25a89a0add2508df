//! Reloading the configuration on SIGHUP: every layer is read again and the difference applied
//! to the running collector, or the whole new configuration is refused.
//!
//! - integrations of the files: added ones start, removed ones stop (their cursors stay in the
//!   state database), changed ones restart; a stopping stream finishes its page in flight;
//! - integrations created through the local API are never touched (a file that now names one
//!   is refused);
//! - sinks: unchanged ones are kept as they are, the others built anew, and the set is swapped
//!   between pages (a page in delivery finishes on the sinks it started with); a file sink whose
//!   path stays open keeps its handle (changed rotation settings wait for a restart);
//! - `state_path`, `state_url`, `[cluster]`, `[api]`, `[log]` and `shutdown_timeout` need a restart:
//!   a change is logged.
//!
//! Everything is checked and built before anything changes, so a refused reload changes nothing;
//! the reason is logged, counted (`config_reload_failures_total`) and shown by `/readyz`.

use crate::config::{self, Config, IntegrationConfig, SinkConfig};
use crate::integrations::{Integration, Origin};
use crate::pipeline::scheduler::{Control, ControlSender};
use crate::pipeline::Collector;
use crate::sinks::{self, Sinks};
use crate::support::shutdown::Shutdown;
use crate::telemetry::events::ConfigReloadFailed;
use std::collections::HashSet;
use std::sync::Arc;

/// Reload on every signal of `hangups` until `shutdown`, starting from `current`.
#[cfg(unix)]
pub async fn on_sighup(
    collector: Arc<Collector>,
    mut current: Config,
    control: ControlSender,
    mut hangups: tokio::signal::unix::Signal,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            got = hangups.recv() => if got.is_none() { return },
        }
        tracing::info!("SIGHUP: reloading the configuration");
        crate::support::notify::notify_reloading();
        let outcome = reload(&collector, &mut current, &control).await;
        crate::support::notify::notify_ready();
        match outcome {
            Ok(summary) => {
                tracing::info!("configuration reloaded: {summary}");
                collector.set_reload_failure(None);
            }
            Err(reason) => {
                ConfigReloadFailed { reason: &reason }.emit();
                collector.set_reload_failure(Some(reason));
            }
        }
    }
}

/// Same configuration of an integration (the inline key compared too: `Debug` hides it).
fn same_integration(a: &IntegrationConfig, b: &IntegrationConfig) -> bool {
    format!("{a:?}") == format!("{b:?}")
        && a.private_key.as_ref().map(|k| k.expose()) == b.private_key.as_ref().map(|k| k.expose())
}

/// Read every layer of `current`'s file again and apply what changed; on success `current`
/// becomes the new configuration and the answer summarises the changes.
pub async fn reload(
    collector: &Collector,
    current: &mut Config,
    control: &ControlSender,
) -> Result<String, String> {
    let path = current
        .source
        .clone()
        .ok_or("the configuration was not read from a file")?;
    let new = config::load(&path).map_err(|e| e.to_string())?;

    let api_names: HashSet<String> = collector
        .registry()
        .integrations()
        .iter()
        .filter(|i| !matches!(i.origin, Origin::File))
        .map(|i| i.name().to_string())
        .collect();
    if let Some(c) = new
        .integrations
        .iter()
        .find(|c| api_names.contains(&c.name))
    {
        return Err(format!(
            "integration {:?} was created through the local API; delete it there or choose another name",
            c.name
        ));
    }
    let mut built = Vec::new();
    for c in &new.integrations {
        let old = current.integrations.iter().find(|o| o.name == c.name);
        if old.is_some_and(|o| same_integration(o, c)) {
            continue;
        }
        let integ = Integration::new(c.clone(), collector.state.clone())
            .map_err(|e| format!("integration {:?}: {e}", c.name))?;
        built.push((Arc::new(integ), old.is_some()));
    }
    let new_sinks = if format!("{:?}", new.sinks) == format!("{:?}", current.sinks) {
        None
    } else {
        Some(rebuild_sinks(current, &collector.sinks(), &new)?)
    };

    let mut changes = Vec::new();
    // Sinks first, so an added integration's first page already goes to the new sinks.
    if let Some(sinks) = new_sinks {
        changes.push(format!("{} sinks", sinks.len()));
        collector.replace_sinks(sinks);
    }
    for old in &current.integrations {
        if !new.integrations.iter().any(|c| c.name == old.name) {
            collector.registry().remove(&old.name);
            send(control, Control::Stop(old.name.clone())).await;
            changes.push(format!("removed {}", old.name));
        }
    }
    for (integ, existed) in built {
        let name = integ.name().to_string();
        collector.registry().upsert(integ);
        send(control, Control::Restart(name.clone())).await;
        changes.push(format!(
            "{} {name}",
            if existed { "changed" } else { "added" }
        ));
    }
    for (key, differs) in [
        ("state_path", new.state_path != current.state_path),
        (
            "state_url",
            new.state_url.as_ref().map(|u| u.expose().to_string())
                != current.state_url.as_ref().map(|u| u.expose().to_string()),
        ),
        (
            "cluster",
            format!("{:?}", new.cluster) != format!("{:?}", current.cluster),
        ),
        (
            "api",
            format!("{:?}", new.api) != format!("{:?}", current.api),
        ),
        (
            "log",
            format!("{:?}", new.log) != format!("{:?}", current.log),
        ),
        (
            "shutdown_timeout",
            new.shutdown_timeout != current.shutdown_timeout,
        ),
    ] {
        if differs {
            tracing::warn!("{key} changed: it takes effect at the next restart");
        }
    }
    *current = new;
    Ok(if changes.is_empty() {
        "no change to integrations or sinks".into()
    } else {
        changes.join(", ")
    })
}

/// The new sink set: a sink whose configuration is unchanged is kept (same file handle, same
/// batches), the others are built.
fn rebuild_sinks(current: &Config, old: &Sinks, new: &Config) -> Result<Sinks, String> {
    if new.sinks.is_empty() {
        return sinks::build::<SinkConfig>(&[]).map_err(|e| e.to_string());
    }
    let mut out = Vec::with_capacity(new.sinks.len());
    for c in &new.sinks {
        let wanted = format!("{c:?}");
        let kept = current
            .sinks
            .iter()
            .position(|o| format!("{o:?}") == wanted || same_file(o, c))
            .and_then(|i| old.as_slice().get(i).cloned());
        let sink = match kept {
            Some(s) => sinks::renamed(s, c.effective_name()),
            None => sinks::build(std::slice::from_ref(c))
                .map_err(|e| e.to_string())?
                .as_slice()
                .first()
                .cloned()
                .ok_or("a sink could not be built")?,
        };
        out.push(sink);
    }
    Sinks::new(out).map_err(|e| e.to_string())
}

/// Two file sinks on one path: a second handle opened while the first may be writing could cut
/// its line, so the open sink is kept and its changed settings wait for a restart.
fn same_file(old: &SinkConfig, new: &SinkConfig) -> bool {
    let same = matches!((old, new), (SinkConfig::File(a), SinkConfig::File(b)) if a.path == b.path);
    if same && format!("{old:?}") != format!("{new:?}") {
        tracing::warn!(
            "file sink settings changed for a path already open: they take effect at the next restart"
        );
    }
    same
}

async fn send(control: &ControlSender, msg: Control) {
    if control.send(msg).await.is_err() {
        tracing::warn!("the scheduler is stopping: a reload change was not applied");
    }
}
