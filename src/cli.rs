//! Command line: parses arguments and runs one command.

use crate::config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for an invalid configuration (EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "docusign-collector",
    version,
    about = "Collects Docusign audit events into your SIEM"
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
    /// Validate the configuration (files readable, keys parse, URLs valid) and exit
    CheckConfig,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = config::resolve_path(cli.config.as_deref());
    match cli.command {
        Command::CheckConfig => match config::load(&path) {
            Ok(cfg) => {
                println!(
                    "configuration OK: {} ({} integrations)",
                    path.display(),
                    cfg.integrations.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("invalid configuration: {e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
    }
}
