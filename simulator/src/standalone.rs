//! The `simulate` command: run only the simulator until Ctrl-C / SIGTERM.

use crate::{generate_key_pair, SimClient, SimConfig, SimHandle, ALL_SCOPES};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options of the standalone simulator.
#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Customer events generated at start.
    pub backlog_events: usize,
    /// Admin users at start.
    pub users: usize,
    /// Customer events appended per second (0 = none).
    pub live_events_per_sec: f64,
    /// Where the generated private key (PKCS#1 PEM) is written, mode 0600.
    pub key_out: PathBuf,
    /// The integration key registered with the simulator.
    pub integration_key: String,
    /// The impersonated user id.
    pub user_id: String,
    /// The account id.
    pub account_id: String,
    /// The organization id.
    pub organization_id: String,
    /// Seed for generated data.
    pub seed: u64,
}

impl Default for StandaloneOptions {
    fn default() -> Self {
        let cfg = SimConfig::default();
        StandaloneOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8089)),
            backlog_events: 10_000,
            users: 200,
            live_events_per_sec: 1.0,
            key_out: PathBuf::from("docusign-sim-key.pem"),
            integration_key: "5c2b8d3e-sim0-4a1b-9c2d-3e4f5a6b7c8d".to_string(),
            user_id: "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b".to_string(),
            account_id: cfg.account_id,
            organization_id: cfg.organization_id,
            seed: cfg.seed,
        }
    }
}

fn write_key(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot write the private key to {}: {e}", path.display()),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(pem.as_bytes())
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `[[integrations]]` snippet pointing at the simulator.
fn snippet(opts: &StandaloneOptions, base: &str, admin: &str) -> String {
    let key_path = std::path::absolute(&opts.key_out).unwrap_or_else(|_| opts.key_out.clone());
    format!(
        "[[integrations]]\n\
         name = \"simulator\"\n\
         environment = \"developer\"\n\
         status = \"active\"\n\
         integration_key = {ik}\n\
         user_id = {user}\n\
         private_key_file = {key}\n\
         redirect_url = \"https://localhost\"\n\
         account_id = {acc}\n\
         organization_id = {org}\n\
         event_types = [\"customer_events\", \"audit_users\"]\n\
         \n\
         [integrations.endpoints]\n\
         oauth = {base}\n\
         monitor = {base}\n\
         admin = {admin}\n",
        ik = toml_str(&opts.integration_key),
        user = toml_str(&opts.user_id),
        key = toml_str(&key_path.to_string_lossy()),
        acc = toml_str(&opts.account_id),
        org = toml_str(&opts.organization_id),
        base = toml_str(base),
        admin = toml_str(admin),
    )
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run the simulator alone: write the client's private key to `key_out` (0600), print a ready-to-use
/// `[[integrations]]` snippet on stdout, log to stderr, and serve until Ctrl-C or SIGTERM.
/// Consent is pre-granted for every scope.
pub async fn run_standalone(opts: StandaloneOptions) -> std::io::Result<()> {
    let (private_pem, public_pem) = generate_key_pair()?;
    write_key(&opts.key_out, &private_pem)?;
    let config = SimConfig {
        clients: vec![SimClient {
            integration_key: opts.integration_key.clone(),
            user_id: opts.user_id.clone(),
            public_key_pem: public_pem,
            consented_scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        }],
        organization_id: opts.organization_id.clone(),
        account_id: opts.account_id.clone(),
        backlog_events: opts.backlog_events,
        live_events_per_sec: opts.live_events_per_sec,
        users: opts.users,
        token_lifetime: Duration::from_secs(3600),
        seed: opts.seed,
        ..SimConfig::default()
    };
    let handle = SimHandle::start(config, opts.listen).await?;
    println!(
        "{}",
        snippet(&opts, &handle.base_url(), &handle.admin_url())
    );
    tracing::info!(
        base_url = %handle.base_url(),
        key = %opts.key_out.display(),
        backlog = opts.backlog_events,
        users = opts.users,
        "Docusign simulator running; control endpoints under /_sim/ (Ctrl-C to stop)"
    );
    terminated().await;
    tracing::info!("Docusign simulator stopping");
    handle.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_is_valid_toml_with_endpoints() {
        let opts = StandaloneOptions::default();
        let s = snippet(&opts, "http://127.0.0.1:1", "http://127.0.0.1:1/management");
        let v: toml::Value = toml::from_str(&s).unwrap_or(toml::Value::Integer(0));
        let i = &v["integrations"][0];
        assert_eq!(
            i["endpoints"]["admin"].as_str(),
            Some("http://127.0.0.1:1/management")
        );
        assert_eq!(
            i["integration_key"].as_str(),
            Some(opts.integration_key.as_str())
        );
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let p = dir.path().join("k.pem");
        write_key(&p, "x").unwrap_or_else(|e| panic!("write: {e}"));
        let mode = std::fs::metadata(&p)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;

    #[tokio::test]
    async fn standalone_writes_key_and_serves() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let key_out = dir.path().join("sim.pem");
        let opts = StandaloneOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            backlog_events: 10,
            users: 3,
            live_events_per_sec: 0.0,
            key_out: key_out.clone(),
            ..StandaloneOptions::default()
        };
        let task = tokio::spawn(run_standalone(opts));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&key_out).map(|m| m.len()).unwrap_or(0) == 0
            && std::time::Instant::now() < deadline
            && !task.is_finished()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pem = std::fs::read_to_string(&key_out).unwrap_or_default();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(!task.is_finished(), "the simulator should keep running");
        task.abort();
    }
}
