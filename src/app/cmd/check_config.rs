//! `check-config`: read and validate the configuration (every layer, files readable, keys
//! parse, URLs valid), say which files were read, and exit; 78 when it is invalid.

use crate::app::setup::Failure;
use crate::config;
use std::path::Path;
use std::process::ExitCode;

pub fn run(config: Option<&Path>) -> Result<ExitCode, Failure> {
    let path = config::resolve_path(config);
    // Not `load_config`: checking starts no logging.
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
