//! RSA private keys: read from a file or inline PEM, repair pasted keys, accept PKCS#1 and PKCS#8.
//! SKELETON: implemented by the config/keys work.

use crate::config::IntegrationConfig;
use std::fmt;
use std::path::PathBuf;

/// A parsed RSA private key ready to sign RS256 assertions. `Debug` never shows key material.
#[derive(Clone)]
pub struct PrivateKey {
    encoding: jsonwebtoken::EncodingKey,
}

impl PrivateKey {
    pub fn encoding_key(&self) -> &jsonwebtoken::EncodingKey {
        &self.encoding
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no private key: set private_key_file or private_key")]
    Missing,
    #[error("both private_key_file and private_key are set: keep one")]
    Both,
    #[error("cannot read private key file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Load the integration's key from `private_key_file` or `private_key`.
pub fn load(cfg: &IntegrationConfig) -> Result<PrivateKey, KeyError> {
    let _ = cfg;
    todo!("key::load")
}

/// Parse PEM text (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`), repairing newlines that
/// became spaces. Refuses keys that are not RSA with a message that says so.
pub fn parse_pem(text: &str) -> Result<PrivateKey, KeyError> {
    let _ = text;
    todo!("key::parse_pem")
}
