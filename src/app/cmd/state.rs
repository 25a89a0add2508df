//! `state`: where each stream stands — its checkpoint, last run, errors, the token's expiry
//! (never the token) and, with replicas, who holds the lease — as text or JSON.

use crate::app::setup::{load_config, load_registry, open_state, Failure};
use crate::config::IntegrationConfig;
use crate::record::format_time;
use crate::state::{State, StateError};
use std::path::Path;
use std::process::ExitCode;

pub fn run(
    config: Option<&Path>,
    integration: Option<&str>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let cfg = load_config(config)?;
    let state = open_state(&cfg)?;
    // The configuration file's integrations and those created through the local API.
    let registry = load_registry(&cfg, &state)?;
    let configs: Vec<_> = registry
        .integrations()
        .iter()
        .map(|i| i.config.clone())
        .collect();
    print_state(&configs, &state, integration, json).map_err(Failure::runtime)?;
    Ok(ExitCode::SUCCESS)
}

/// Print cursors, last runs and token expiry (never the token), as text or JSON.
fn print_state(
    integrations: &[IntegrationConfig],
    state: &State,
    only: Option<&str>,
    json: bool,
) -> Result<(), StateError> {
    let mut out = Vec::new();
    for i in integrations
        .iter()
        .filter(|i| only.is_none_or(|n| n == i.name))
    {
        let streams = state.streams(Some(&i.name))?;
        let expiry = state.token_expiry(&i.name)?;
        let mut entry = serde_json::json!({
            "name": i.name,
            "status": if i.is_active() { "active" } else { "inactive" },
            "event_types": i.event_types,
            "token_expires_at": expiry.map(format_time),
            "streams": streams.iter().map(crate::sources::stream_view).collect::<Vec<_>>(),
        });
        if let Some(lease) = state.lease_view(&i.name)? {
            entry["lease"] = lease;
        }
        // The API's stable integer id (assigned when the daemon first saw the name).
        if let Ok(Some(id)) = state.known_integration_id(&i.name) {
            entry["id"] = id.into();
        }
        out.push(entry);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    for i in &out {
        let expiry = i["token_expires_at"].as_str().unwrap_or("no cached token");
        println!(
            "{} ({}), token expires: {}",
            i["name"].as_str().unwrap_or(""),
            i["status"].as_str().unwrap_or(""),
            expiry
        );
        if !i["lease"].is_null() {
            match (i["lease"]["holder"].as_str(), i["lease"]["until"].as_str()) {
                (Some(holder), Some(until)) => {
                    println!("  held by replica {holder} until {until}")
                }
                _ => println!("  held by no replica (the next to look takes it)"),
            }
        }
        let streams = i["streams"].as_array().cloned().unwrap_or_default();
        if streams.is_empty() {
            println!("  no collection yet");
        }
        for s in streams {
            let run = &s["last_run"];
            let when = run["ended_at"]
                .as_i64()
                .or(run["started_at"].as_i64())
                .map(format_time)
                .unwrap_or_else(|| "-".into());
            let outcome = match run["error"].as_str() {
                Some(e) => format!("FAILED: {e}"),
                None if run.is_null() => "-".into(),
                None => format!("ok, {} events in {} pages", run["events"], run["pages"]),
            };
            println!(
                "  {:<16} {}\n  {:<16} last run {} ({})",
                s["event_type"].as_str().unwrap_or(""),
                s["position"]["description"]
                    .as_str()
                    .unwrap_or("no position yet"),
                "",
                when,
                outcome
            );
        }
    }
    Ok(())
}
