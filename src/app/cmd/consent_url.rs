//! `consent-url`: print the consent URL for the scopes the configured event types need (one
//! integration's, or every integration's, each line prefixed with its name).

use crate::app::setup::{load_config, load_registry, open_state, select, Failure};
use crate::state::State;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(config: Option<&Path>, integration: Option<&str>) -> Result<ExitCode, Failure> {
    let cfg = load_config(config)?;
    // The state database holds integrations created through the API; without it (say before
    // the service ever ran) the configuration file's integrations still answer.
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
    let selected = select(&registry, integration)?;
    for i in &selected {
        if selected.len() == 1 {
            println!("{}", i.auth.consent_url());
        } else {
            println!("{}: {}", i.name(), i.auth.consent_url());
        }
    }
    Ok(ExitCode::SUCCESS)
}
