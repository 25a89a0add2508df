//! How to reach the PostgreSQL database: `state_url`, the password (in the URL, from
//! `state_password_file` — which may name a systemd credential — or from `PGPASSWORD`), TLS
//! (`sslmode` in the URL; rustls with the webpki roots plus `state_ca_file`; the server's name is
//! always verified) and the timeouts that keep a dead database from hanging a caller.

use crate::config::Config;
pub use crate::config::DEFAULT_CONNECTIONS;
use crate::state::StateError;
use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Server-side limits of every session: no statement or lock wait runs away with a caller.
const SESSION_OPTIONS: &str =
    "-c statement_timeout=15000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000";

/// A parsed `state_url` with its password and TLS settings. `Debug` never shows the password.
#[derive(Clone)]
pub struct PgSettings {
    config: postgres::Config,
    /// `user@host:port/dbname`, for messages.
    pub(crate) target: String,
    pub(crate) connections: usize,
    /// `None` with `sslmode=disable`.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("target", &self.target)
            .field("connections", &self.connections)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

fn fail(target: &str, message: impl Into<String>) -> StateError {
    StateError::Postgres {
        target: target.to_string(),
        message: message.into(),
    }
}

impl PgSettings {
    /// The settings `cfg` names, or `None` when it uses SQLite (no `state_url`).
    pub fn from_config(cfg: &Config) -> Result<Option<PgSettings>, StateError> {
        let Some(url) = &cfg.state_url else {
            return Ok(None);
        };
        let connections = cfg
            .cluster
            .as_ref()
            .map_or(DEFAULT_CONNECTIONS, |c| c.connections);
        PgSettings::new(
            url.expose(),
            cfg.state_password_file.as_deref(),
            cfg.state_ca_file.as_deref(),
            connections,
        )
        .map(Some)
    }

    /// Parse `url` (`postgres://user@host:port/dbname?sslmode=…`) and gather the password and
    /// the TLS roots.
    pub fn new(
        url: &str,
        password_file: Option<&Path>,
        ca_file: Option<&Path>,
        connections: usize,
    ) -> Result<PgSettings, StateError> {
        let mut config = postgres::Config::from_str(url).map_err(|e| {
            fail(
                "state_url",
                format!("is not a PostgreSQL URL ({e}); expected postgres://user@host:5432/dbname"),
            )
        })?;
        let target = describe(&config);
        if config.get_password().is_none() {
            if let Some(file) = password_file {
                let password = crate::support::credentials::read_token(file)
                    .map_err(|e| fail(&target, format!("state_password_file: {e}")))?;
                config.password(password);
            } else if let Some(password) = std::env::var_os("PGPASSWORD") {
                config.password(password.as_encoded_bytes());
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .tcp_user_timeout(Duration::from_secs(15));
        let options = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} {SESSION_OPTIONS}"),
            _ => SESSION_OPTIONS.to_string(),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("docusign-collector");
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            _ => Some(Arc::new(tls_config(ca_file).map_err(|m| fail(&target, m))?)),
        };
        Ok(PgSettings {
            config,
            target,
            connections: connections.max(1),
            tls,
        })
    }

    /// Open one connection.
    pub(super) fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            None => self.config.connect(NoTls),
            Some(tls) => self
                .config
                .connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                    (**tls).clone(),
                )),
        }
    }

    /// A client error as a state error naming the database.
    pub(super) fn error(&self, e: &postgres::Error) -> StateError {
        let message = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => {
                let mut m = e.to_string();
                if let Some(source) = std::error::Error::source(e) {
                    let s = source.to_string();
                    if !m.contains(&s) {
                        m = format!("{m}: {s}");
                    }
                }
                if m.contains("certificate") {
                    format!("{m}: set state_ca_file to the CA that signed the server's certificate (its name must match the URL's host), or sslmode=disable in state_url")
                } else {
                    format!("{m} (collection pauses until the database answers)")
                }
            }
        };
        fail(&self.target, message)
    }
}

/// `user@host:port/dbname` (never the password).
fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres")
    )
}

/// rustls with the webpki roots and the certificates of `ca_file` (PEM).
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let real = crate::support::credentials::expand(path)?;
        let certs = CertificateDer::pem_file_iter(&real)
            .map_err(|e| format!("state_ca_file {}: {e}", real.display()))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("state_ca_file {}: {e}", real.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("state_ca_file {}: {e}", real.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "state_ca_file {} holds no PEM certificate",
                real.display()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_never_shows_the_password() {
        let s = PgSettings::new(
            "postgres://collector:hunter2@db.example.com:6543/state?sslmode=disable",
            None,
            None,
            2,
        )
        .unwrap();
        assert_eq!(s.target, "collector@db.example.com:6543/state");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(s.tls.is_none());
        let e = PgSettings::new("mysql://x", None, None, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("state_url"), "{e}");
    }

    #[test]
    fn tls_is_on_unless_disabled_and_a_bad_ca_file_is_named() {
        let s = PgSettings::new("postgres://u@h/d", None, None, 1).unwrap();
        assert!(s.tls.is_some(), "sslmode defaults to prefer");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let e = PgSettings::new("postgres://u@h/d?sslmode=require", None, Some(&ca), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ca.pem"), "{e}");
    }

    #[test]
    fn the_password_file_is_read_when_the_url_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let s = PgSettings::new("postgres://u@h/d", Some(&pw), None, 1).unwrap();
        assert_eq!(s.config.get_password(), Some(&b"s3cret"[..]));
        let e = PgSettings::new("postgres://u@h/d", Some(&dir.path().join("none")), None, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("state_password_file"), "{e}");
    }
}
