//! What the commands share: how a command fails (message and exit code), and the steps most of
//! them begin with — load the configuration, take the collection lock, open the state
//! database, build the sinks and the collector, load the integrations, listen for signals.

use crate::config::{self, Config};
use crate::integrations::{Integration, Registry, SetupError};
use crate::pipeline::{Collector, CycleError};
use crate::sinks;
use crate::state::{CollectionLock, State};
use crate::support::seal::{SealKey, SealKeys};
use crate::support::shutdown::Shutdown;
use crate::telemetry::logging::init_logging;
use std::path::Path;
use std::sync::Arc;

use super::cli::EXIT_CONFIG;

/// A command's failure: its message and exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// The configuration is invalid: exit [`EXIT_CONFIG`].
    pub fn config(message: impl std::fmt::Display) -> Self {
        Failure {
            code: EXIT_CONFIG,
            message: format!("invalid configuration: {message}"),
        }
    }

    /// Anything else went wrong: exit 1.
    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl From<CycleError> for Failure {
    fn from(e: CycleError) -> Self {
        match e {
            CycleError::Setup(SetupError::Invalid { .. }) => Failure::config(e),
            other => Failure::runtime(other),
        }
    }
}

/// Read the configuration (`--config`, else the environment's or the default path) and start
/// logging as it says.
pub fn load_config(path: Option<&Path>) -> Result<Config, Failure> {
    let path = config::resolve_path(path);
    let cfg = config::load(&path).map_err(Failure::config)?;
    init_logging(&cfg.log.level, cfg.log.format);
    Ok(cfg)
}

/// Open the state database; with `[api] seal_key_file`, seal again what is not sealed under it
/// (rows in the clear, `sealed:v1:` rows, rows of `previous_seal_key_files`) and open what is.
pub fn open_state(cfg: &Config) -> Result<State, Failure> {
    let state = State::open_configured(cfg).map_err(Failure::runtime)?;
    if let Some(api) = &cfg.api {
        if let Some(path) = &api.seal_key_file {
            let current = SealKey::from_file(path).map_err(Failure::config)?;
            let previous = api
                .previous_seal_key_files
                .iter()
                .map(|p| SealKey::from_file(p).map_err(Failure::config))
                .collect::<Result<Vec<_>, _>>()?;
            state
                .set_seal_keys(SealKeys { current, previous })
                .map_err(Failure::runtime)?;
        }
    }
    Ok(state)
}

/// One collecting process per SQLite state file; replicas sharing PostgreSQL use leases.
pub fn lock_collection(cfg: &Config) -> Result<Option<CollectionLock>, Failure> {
    if cfg.state_url.is_some() {
        return Ok(None);
    }
    State::lock_collection(&cfg.state_path)
        .map(Some)
        .map_err(Failure::runtime)
}

/// The collector with the configured sinks.
pub fn build_collector(cfg: &Config, state: State) -> Result<Arc<Collector>, Failure> {
    let sinks = sinks::build(&cfg.sinks).map_err(Failure::config)?;
    Ok(Arc::new(Collector::new(cfg, state, sinks)?))
}

/// The integrations of the configuration file and the state database, for commands that
/// deliver nothing.
pub fn load_registry(cfg: &Config, state: &State) -> Result<Registry, Failure> {
    Ok(Registry::load(cfg, state).map_err(CycleError::from)?)
}

/// The integrations a command applies to: the named one (which must exist), else all.
pub fn select(registry: &Registry, name: Option<&str>) -> Result<Vec<Arc<Integration>>, Failure> {
    match name {
        Some(n) => registry.integration(n).map(|i| vec![i]).ok_or_else(|| {
            Failure::runtime(format!("no integration named {n:?} in the configuration"))
        }),
        None => Ok(registry.integrations()),
    }
}

/// A shutdown signal fired by SIGTERM or SIGINT.
pub fn signal_shutdown() -> Shutdown {
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: stopping");
        trigger.fire();
    });
    shutdown
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The exit code of a command that succeeds or fails as a whole (`once`, `test`).
pub fn exit_code(ok: bool) -> std::process::ExitCode {
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}
