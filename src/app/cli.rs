//! The command line: the commands and their arguments, parsed by `clap` from the types below
//! (each doc comment is the command's `--help` line).
//!
//! This is an API boundary: operators' scripts, systemd units and the container's
//! `HEALTHCHECK` call these names and read the exit codes, so a name or a code changes only
//! with the release notes. Exit codes: 0 success, 1 a failure at run time, [`EXIT_CONFIG`] an
//! invalid configuration.

use crate::record::EventType;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Exit code for an invalid configuration (EX_CONFIG of `sysexits.h`).
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
    Simulate(super::cmd::simulate::SimulateArgs),
    /// Exit 0 when the running collector answers /healthz ([api] set), else when the state
    /// database opens; 1 otherwise (the container's HEALTHCHECK)
    Healthcheck,
}

fn parse_event_type(s: &str) -> Result<EventType, String> {
    EventType::parse(s)
        .ok_or_else(|| format!("unknown event type {s:?}: use customer-events or audit-users"))
}
