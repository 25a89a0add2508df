//! `reset-token`: forget the cached access token (in memory and in the state database), so the
//! next call grants a new one.

use crate::app::setup::{load_config, load_registry, open_state, select, Failure};
use std::path::Path;
use std::process::ExitCode;

pub async fn run(config: Option<&Path>, integration: Option<&str>) -> Result<ExitCode, Failure> {
    let cfg = load_config(config)?;
    let state = open_state(&cfg)?;
    let registry = load_registry(&cfg, &state)?;
    for i in select(&registry, integration)? {
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
