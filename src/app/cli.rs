//! Command line: parses arguments and runs one command.

use crate::app::daemon::run_daemon;
use crate::config::{self, Config, LogFormat};
use crate::integrations::{Integration, Registry, SetupError};
use crate::pipeline::{Collector, CycleError};
use crate::record::EventType;
use crate::state::State;
use crate::support::seal::{SealKey, SealKeys};
use crate::support::shutdown::Shutdown;
use crate::telemetry::logging::init_logging;
use crate::{pipeline::scheduler, sinks};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Exit code for an invalid configuration (EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "docusign-collector",
    version,
    about = "Collects Docusign audit events (Monitor customer events, Admin audit users) into your SIEM"
)]
pub struct Cli {
    /// Configuration file (default: $DOCUSIGN_COLLECTOR_CONFIG, else /etc/docusign-collector/config.toml)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: every active integration's event types on their intervals, until SIGTERM/SIGINT
    Run,
    /// One collection cycle for every active integration and event type, then exit (0 = all succeeded)
    Once,
    /// Fetch and print events as JSON lines; saves no cursor, delivers to no sink
    GetEvents {
        #[arg(long)]
        integration: String,
        #[arg(long, value_parser = parse_event_type)]
        event_type: EventType,
        /// Stop after this many events
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start here instead of the integration's start_from: a lookback ("1h") or an RFC 3339 time
        #[arg(long)]
        from: Option<String>,
    },
    /// Print the consent URL for the scopes the configured event types need
    ConsentUrl {
        #[arg(long)]
        integration: Option<String>,
    },
    /// Forget the cached access token
    ResetToken {
        #[arg(long)]
        integration: Option<String>,
    },
    /// Get a token, call userinfo, make one call to each enabled API; say what failed
    Test {
        #[arg(long)]
        integration: Option<String>,
    },
    /// Validate the configuration (files readable, keys parse, URLs valid) and exit
    CheckConfig,
    /// Cursors, last runs, errors, token expiry (never the token)
    State {
        #[arg(long)]
        integration: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run the built-in Docusign simulator on loopback and collect from it to stdout
    Demo {
        /// Stop after this long ("10s"); default: until Ctrl-C
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
    },
    /// Run only the built-in Docusign simulator (for pipeline tests without a Docusign account)
    Simulate(crate::app::cmd::demo::SimulateArgs),
    /// Exit 0 when the running collector answers /healthz ([api] set), else when the state
    /// database opens; 1 otherwise (the container's HEALTHCHECK)
    Healthcheck,
}

fn parse_event_type(s: &str) -> Result<EventType, String> {
    EventType::parse(s)
        .ok_or_else(|| format!("unknown event type {s:?}: use customer-events or audit-users"))
}

/// A command's failure: its message and exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn config(message: impl std::fmt::Display) -> Self {
        Failure {
            code: EXIT_CONFIG,
            message: format!("invalid configuration: {message}"),
        }
    }
    fn runtime(message: impl std::fmt::Display) -> Self {
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn load_config(cli: &Cli) -> Result<Config, Failure> {
    let path = config::resolve_path(cli.config.as_deref());
    let cfg = config::load(&path).map_err(Failure::config)?;
    init_logging(&cfg.log.level, cfg.log.format);
    Ok(cfg)
}

/// Open the state database; with `[api] seal_key_file`, seal again what is not sealed under it
/// (rows in the clear, `sealed:v1:` rows, rows of `previous_seal_key_files`) and open what is.
fn open_state(cfg: &Config) -> Result<State, Failure> {
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
fn lock_collection(cfg: &Config) -> Result<Option<crate::state::CollectionLock>, Failure> {
    if cfg.state_url.is_some() {
        return Ok(None);
    }
    State::lock_collection(&cfg.state_path)
        .map(Some)
        .map_err(Failure::runtime)
}

/// The collector with the configured sinks.
fn build_collector(cfg: &Config, state: State) -> Result<Arc<Collector>, Failure> {
    let sinks = sinks::build(&cfg.sinks).map_err(Failure::config)?;
    Ok(Arc::new(Collector::new(cfg, state, sinks)?))
}

/// The integrations of the configuration file and the state database, for commands that
/// deliver nothing.
fn load_registry(cfg: &Config, state: &State) -> Result<Registry, Failure> {
    Ok(Registry::load(cfg, state).map_err(CycleError::from)?)
}

/// The integrations a command applies to: the named one (which must exist), else all.
fn select(registry: &Registry, name: Option<&str>) -> Result<Vec<Arc<Integration>>, Failure> {
    match name {
        Some(n) => registry.integration(n).map(|i| vec![i]).ok_or_else(|| {
            Failure::runtime(format!("no integration named {n:?} in the configuration"))
        }),
        None => Ok(registry.integrations()),
    }
}

/// A shutdown signal fired by SIGTERM or SIGINT.
fn signal_shutdown() -> Shutdown {
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

async fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::CheckConfig => {
            let path = config::resolve_path(cli.config.as_deref());
            let cfg = config::load(&path).map_err(Failure::config)?;
            println!(
                "configuration OK: {} ({} integrations, {} sinks)",
                path.display(),
                cfg.integrations.len(),
                cfg.sinks.len().max(1)
            );
            for file in &cfg.files {
                println!("read {}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let cfg = load_config(&cli)?;
            let _lock = lock_collection(&cfg)?;
            let state = open_state(&cfg)?;
            let collector = build_collector(&cfg, state)?;
            run_daemon(collector, &cfg, signal_shutdown())
                .await
                .map_err(Failure::runtime)
        }
        Command::Once => {
            let cfg = load_config(&cli)?;
            let _lock = lock_collection(&cfg)?;
            let state = open_state(&cfg)?;
            let collector = build_collector(&cfg, state)?;
            // Beside running replicas, `once` collects only the integrations nobody holds.
            // Under its own replica name, so it runs beside a replica of the same host.
            let mut as_once = cfg.clone();
            let mut settings = cfg.cluster.clone().unwrap_or_default();
            settings.replica = Some(format!(
                "{}-once-{}",
                settings.replica_name(),
                std::process::id()
            ));
            as_once.cluster = Some(settings);
            let cluster = crate::cluster::Cluster::join(&as_once, &collector.state)
                .map_err(Failure::runtime)?;
            if let Some(c) = &cluster {
                let held = c.claim_free(&collector).await.map_err(Failure::runtime)?;
                tracing::info!(
                    held = held.len(),
                    "once: collecting the integrations no replica holds"
                );
            }
            let ok = scheduler::once(collector.clone(), signal_shutdown()).await;
            if let Some(c) = &cluster {
                c.leave().await;
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::GetEvents {
            integration,
            event_type,
            limit,
            from,
        } => {
            let cfg = load_config(&cli)?;
            let state = open_state(&cfg)?;
            let registry = load_registry(&cfg, &state)?;
            let integ = select(&registry, Some(integration))?[0].clone();
            get_events(&integ, *event_type, *limit, from.as_deref()).await
        }
        Command::ConsentUrl { integration } => {
            let cfg = load_config(&cli)?;
            // The state database holds integrations created through the API; without it (say
            // before the service ever ran) the configuration file's integrations still answer.
            let existing = cfg
                .state_path
                .is_file()
                .then(|| open_state(&cfg).ok())
                .flatten();
            let state = match existing {
                Some(s) => s,
                None => State::open_in_memory().map_err(Failure::runtime)?,
            };
            let registry = load_registry(&cfg, &state)?;
            let selected = select(&registry, integration.as_deref())?;
            for i in &selected {
                if selected.len() == 1 {
                    println!("{}", i.auth.consent_url());
                } else {
                    println!("{}: {}", i.name(), i.auth.consent_url());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ResetToken { integration } => {
            let cfg = load_config(&cli)?;
            let state = open_state(&cfg)?;
            let registry = load_registry(&cfg, &state)?;
            for i in select(&registry, integration.as_deref())? {
                let had = i.auth.reset().await.map_err(Failure::runtime)?;
                println!(
                    "{}: {}",
                    i.name(),
                    if had {
                        "cached token forgotten"
                    } else {
                        "no cached token"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Test { integration } => {
            let cfg = load_config(&cli)?;
            let state = open_state(&cfg)?;
            let registry = load_registry(&cfg, &state)?;
            let mut ok = true;
            for i in select(&registry, integration.as_deref())? {
                let steps = crate::integrations::probe::test_integration(&i).await;
                ok &= crate::integrations::probe::print_steps(i.name(), &steps);
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::State { integration, json } => {
            let cfg = load_config(&cli)?;
            let state = open_state(&cfg)?;
            // The configuration file's integrations and those created through the local API.
            let registry = load_registry(&cfg, &state)?;
            let configs: Vec<_> = registry
                .integrations()
                .iter()
                .map(|i| i.config.clone())
                .collect();
            crate::integrations::probe::print_state(
                &configs,
                &state,
                integration.as_deref(),
                *json,
            )
            .map_err(Failure::runtime)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck => {
            let cfg = config::load(&config::resolve_path(cli.config.as_deref()))
                .map_err(|e| Failure::runtime(format!("unhealthy: {e}")))?;
            let answer = crate::app::cmd::healthcheck::check(&cfg)
                .await
                .map_err(|e| Failure::runtime(format!("unhealthy: {e}")))?;
            println!("{answer}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { duration } => crate::app::cmd::demo::run(*duration)
            .await
            .map_err(Failure::runtime),
        Command::Simulate(args) => {
            init_logging("info", LogFormat::Text);
            docusign_sim::run_standalone(docusign_sim::StandaloneOptions::from(args.clone()))
                .await
                .map_err(|e| Failure::runtime(format!("simulator: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

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
                now - d.as_secs() as i64
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
