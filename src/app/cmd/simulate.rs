//! `simulate`: only the built-in Docusign simulator, on the address given, with a generated key
//! pair (its private key written to `--key-out`), for pipeline tests without a Docusign account.

use crate::app::setup::Failure;
use crate::telemetry::logging::init_logging;
use crate::telemetry::logging::LogFormat;
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn run(args: SimulateArgs) -> Result<ExitCode, Failure> {
    init_logging("info", LogFormat::Text);
    docusign_sim::run_standalone(docusign_sim::StandaloneOptions::from(args))
        .await
        .map_err(|e| Failure::runtime(format!("simulator: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// Options of the `simulate` command.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub listen: std::net::SocketAddr,
    /// Where to write the generated private key (PEM, mode 0600)
    #[arg(long, default_value = "sim-key.pem")]
    pub key_out: PathBuf,
    /// Customer events in the backlog at start
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Admin users at start
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Customer events appended per second
    #[arg(long, default_value_t = 0.0)]
    pub live_rate: f64,
}

impl From<SimulateArgs> for docusign_sim::StandaloneOptions {
    fn from(a: SimulateArgs) -> Self {
        docusign_sim::StandaloneOptions {
            listen: a.listen,
            backlog_events: a.events,
            users: a.users,
            live_events_per_sec: a.live_rate,
            key_out: a.key_out,
            ..docusign_sim::StandaloneOptions::default()
        }
    }
}
