//! The application: the top of the house, where the layers below are put together into the
//! `docusign-collector` program. Nothing below imports it.
//!
//! Reading order, like tokio's mini-redis:
//! - [`main`] (here) starts the async runtime, parses the command line ([`cli`]) and hands the
//!   command to [`dispatch`], which only picks the command's file;
//! - [`cmd`] holds one file per command (`run`, `once`, `get-events`, …): each loads what it
//!   needs through [`setup`] and does its one job;
//! - [`daemon`] wires the long-running parts of `run` (scheduler, cluster, reload, local API);
//!   [`reload`] applies a new configuration on SIGHUP.
//!
//! A command ends in a [`setup::Failure`] (its message on stderr, its exit code) or an exit
//! code of its own; `main` turns either into the process's exit status.

pub mod cli;
pub mod cmd;
pub mod daemon;
pub mod reload;
pub mod setup;

use clap::Parser;
pub use cli::{Cli, Command, EXIT_CONFIG};
use setup::Failure;
use std::process::ExitCode;

/// The program: parse the arguments, run the command on a multi-threaded runtime, exit with
/// its code (a failure's message goes to stderr).
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

/// Run one command: each arm names the command's file and passes it its arguments.
async fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Run => cmd::run::run(config).await,
        Command::Once => cmd::once::run(config).await,
        Command::GetEvents {
            integration,
            event_type,
            limit,
            from,
        } => cmd::get_events::run(config, &integration, event_type, limit, from.as_deref()).await,
        Command::ConsentUrl { integration } => {
            cmd::consent_url::run(config, integration.as_deref()).await
        }
        Command::ResetToken { integration } => {
            cmd::reset_token::run(config, integration.as_deref()).await
        }
        Command::Test { integration } => cmd::test::run(config, integration.as_deref()).await,
        Command::CheckConfig => cmd::check_config::run(config),
        Command::State { integration, json } => {
            cmd::state::run(config, integration.as_deref(), json)
        }
        Command::Demo { duration } => cmd::demo::run(duration).await.map_err(Failure::runtime),
        Command::Simulate(args) => cmd::simulate::run(args).await,
        Command::Healthcheck => cmd::healthcheck::run(config).await,
    }
}
