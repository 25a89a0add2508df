//! `demo`: start the built-in simulator on loopback with an in-memory key pair and collect
//! from it to stdout, using `config/demo.toml`.

use crate::pipeline::Collector;
use crate::support::shutdown::Shutdown;
use docusign_sim::{SimClient, SimConfig, SimHandle};
use std::sync::Arc;
use std::time::Duration;

/// The configuration `demo` runs with; `{{…}}` placeholders are filled in at start.
pub const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");
const INTEGRATION_KEY: &str = "0b4d7f3e-demo-4c51-9a0e-5f1c2d3b4a69";
const USER_ID: &str = "7c2e9a41-demo-4f0b-8d6a-2b3c4d5e6f70";

/// Run the demo for `duration` (else until Ctrl-C), then stop the simulator and remove the
/// demo's state directory.
pub async fn run(duration: Option<Duration>) -> Result<std::process::ExitCode, String> {
    crate::telemetry::logging::init_logging("info", crate::telemetry::logging::LogFormat::Text);
    let (private_pem, public_pem) = docusign_sim::generate_key_pair()
        .map_err(|e| format!("cannot generate a key pair: {e}"))?;
    let scopes = [
        "signature",
        "impersonation",
        "organization_read",
        "user_read",
    ];
    let sim_cfg = SimConfig {
        clients: vec![SimClient {
            integration_key: INTEGRATION_KEY.into(),
            user_id: USER_ID.into(),
            public_key_pem: public_pem,
            consented_scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }],
        backlog_events: 3000,
        backlog_span: Duration::from_secs(12 * 3600),
        live_events_per_sec: 5.0,
        users: 40,
        ..SimConfig::default()
    };
    let sim = SimHandle::start(sim_cfg.clone(), ([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    tracing::info!(url = %sim.base_url(), "simulator listening");
    let state_dir =
        std::env::temp_dir().join(format!("docusign-collector-demo-{}", std::process::id()));
    let text = DEMO_CONFIG
        .replace("{{SIM_URL}}", &sim.base_url())
        .replace("{{ADMIN_URL}}", &sim.admin_url())
        .replace(
            "{{STATE_PATH}}",
            &state_dir.join("state.db").display().to_string(),
        )
        .replace("{{INTEGRATION_KEY}}", INTEGRATION_KEY)
        .replace("{{USER_ID}}", USER_ID)
        .replace("{{ACCOUNT_ID}}", &sim_cfg.account_id)
        .replace("{{ORGANIZATION_ID}}", &sim_cfg.organization_id)
        .replace("{{PRIVATE_KEY}}", private_pem.trim());
    let cfg = crate::config::from_toml_str(&text, "config/demo.toml").map_err(|e| e.to_string())?;
    let state = crate::state::State::open(&cfg.state_path).map_err(|e| e.to_string())?;
    let sinks = crate::sinks::build(&cfg.sinks).map_err(|e| e.to_string())?;
    let collector = Arc::new(Collector::new(&cfg, state, sinks).map_err(|e| e.to_string())?);
    let (trigger, shutdown) = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        match duration {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        trigger.fire();
    });
    let result = crate::app::daemon::run_daemon(collector, &cfg, stop).await;
    sim.shutdown();
    let _ = std::fs::remove_dir_all(&state_dir);
    result
}
