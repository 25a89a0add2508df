//! A simulator for `sdk-conformance/run.sh`: listens on a loopback port, writes its client's private key
//! to `KEY_FILE`, prints one JSON line describing itself, and serves until stdin closes or Ctrl-C.
//!
//! `cargo run -p docusign-sim --example conformance_sim -- KEY_FILE`

use docusign_sim::{generate_key_pair, SimClient, SimConfig, SimHandle, ALL_SCOPES};
use std::io::Write;

const INTEGRATION_KEY: &str = "0d3c7b5e-5dk0-4c1f-9a8e-2b3c4d5e6f70";
const USER_ID: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let key_file = std::env::args()
        .nth(1)
        .ok_or_else(|| std::io::Error::other("usage: conformance_sim KEY_FILE"))?;
    let (private_pem, public_pem) = generate_key_pair()?;
    std::fs::write(&key_file, private_pem)?;
    let config = SimConfig {
        clients: vec![SimClient {
            integration_key: INTEGRATION_KEY.to_string(),
            user_id: USER_ID.to_string(),
            public_key_pem: public_pem,
            consented_scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        }],
        backlog_events: 300,
        users: 45,
        esign_unknown_users: 1,
        esign_list_undated: 2,
        ..SimConfig::default()
    };
    let sim = SimHandle::start(config.clone(), ([127, 0, 0, 1], 0).into()).await?;
    let info = serde_json::json!({
        "base_url": sim.base_url(),
        "oauth_host": sim.audience(),
        "integration_key": INTEGRATION_KEY,
        "user_id": USER_ID,
        "account_id": config.account_id,
        "organization_id": config.organization_id,
        "unknown_user_ids": sim.esign_unknown_user_ids(),
        "key_file": key_file,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{info}")?;
    out.flush()?;
    drop(out);
    // Serve until stdin reaches its end (the runner closes it) or Ctrl-C.
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    });
    tokio::select! {
        _ = stdin_closed => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    sim.shutdown();
    Ok(())
}
