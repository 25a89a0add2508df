//! RSA private keys: read from a file or inline PEM, repair pasted keys, accept PKCS#1 and PKCS#8.
//!
//! Keys pasted into environment variables or web forms often arrive damaged: newlines turned into
//! spaces, literal `\n` two-character sequences, CRLF line ends, blanks around the text.
//! [`parse_pem`] repairs those, checks that the key really is an unencrypted RSA private key
//! (with the `rsa` crate), and builds the `jsonwebtoken` signing key from its PKCS#1 DER form.
//! No error message ever contains key material.

use crate::support::secret::Secret;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;

/// Smallest RSA modulus accepted, in bits (Docusign's own keys are 2048-bit; the signer needs ≥ 2048).
pub const MIN_RSA_BITS: usize = 2048;

/// OID of `rsaEncryption` (PKCS#1) in a PKCS#8 `AlgorithmIdentifier`.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// A parsed RSA private key ready to sign RS256 assertions. `Debug` never shows key material.
#[derive(Clone)]
pub struct PrivateKey {
    encoding: jsonwebtoken::EncodingKey,
    fingerprint: String,
}

impl PrivateKey {
    /// The key in the form `jsonwebtoken::encode` signs with (RS256).
    pub fn encoding_key(&self) -> &jsonwebtoken::EncodingKey {
        &self.encoding
    }

    /// A short stable id of the **public** key: the first 16 hex digits of the SHA-256 of the
    /// big-endian modulus. Ties cached tokens to the key that obtained them; safe to log.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// Wrap an in-memory RSA key (for example one generated for the simulator).
    pub fn from_rsa(key: &RsaPrivateKey) -> Result<PrivateKey, KeyError> {
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::Invalid(format!(
                "the RSA key is {bits} bits; at least {MIN_RSA_BITS} bits are required (generate a new keypair in Docusign's Apps and Keys page)"
            )));
        }
        let der = key.to_pkcs1_der().map_err(|_| {
            KeyError::Invalid("the RSA private key could not be re-encoded (PKCS#1)".into())
        })?;
        let encoding = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
        let digest = Sha256::digest(key.n().to_bytes_be());
        let fingerprint = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(PrivateKey {
            encoding,
            fingerprint,
        })
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey(fingerprint={}, [redacted])",
            self.fingerprint
        )
    }
}

/// Why a private key cannot be used. Messages never contain key material.
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

/// Where an integration's key comes from: `private_key_file` or `private_key` (inline PEM).
#[derive(Clone, Copy)]
pub struct KeySource<'a> {
    pub file: Option<&'a std::path::Path>,
    pub inline: Option<&'a Secret>,
}

/// Load the integration's key from `private_key_file` or `private_key`.
pub fn load(from: KeySource<'_>) -> Result<PrivateKey, KeyError> {
    let inline = from.inline.filter(|s| !s.expose().trim().is_empty());
    match (from.file, inline) {
        (Some(_), Some(_)) => Err(KeyError::Both),
        (None, None) => Err(KeyError::Missing),
        (None, Some(secret)) => parse_pem(secret.expose()),
        (Some(path), None) => {
            let expanded = super::credentials::expand(path).map_err(KeyError::Invalid)?;
            let path = expanded.as_path();
            if path.is_dir() {
                return Err(KeyError::Unreadable {
                    path: path.to_path_buf(),
                    source: std::io::Error::other("is a directory, not a file"),
                });
            }
            let bytes = std::fs::read(path).map_err(|source| KeyError::Unreadable {
                path: path.to_path_buf(),
                source,
            })?;
            let text = String::from_utf8(bytes).map_err(|_| {
                KeyError::Invalid(format!(
                    "private key file {} is not text: expected a PEM key (\"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN PRIVATE KEY-----\"), not DER",
                    path.display()
                ))
            })?;
            parse_pem(&text).map_err(|e| match e {
                KeyError::Invalid(m) => {
                    KeyError::Invalid(format!("private key file {}: {m}", path.display()))
                }
                other => other,
            })
        }
    }
}

/// Parse PEM text (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`), repairing newlines that
/// became spaces. Refuses keys that are not RSA with a message that says so.
pub fn parse_pem(text: &str) -> Result<PrivateKey, KeyError> {
    let (label, body) = split_pem(text)?;
    match label.as_str() {
        "RSA PRIVATE KEY" | "PRIVATE KEY" => {}
        "ENCRYPTED PRIVATE KEY" => {
            return Err(KeyError::Invalid(
                "encrypted private keys are not supported: decrypt it first (openssl pkcs8 -in key.pem -out plain.pem)".into(),
            ))
        }
        "EC PRIVATE KEY" | "DSA PRIVATE KEY" | "OPENSSH PRIVATE KEY" => {
            return Err(not_rsa(&label));
        }
        l if l.ends_with("PUBLIC KEY") || l.contains("CERTIFICATE") => {
            return Err(KeyError::Invalid(format!(
                "this PEM holds a {l}, not a private key: use the RSA private key Docusign showed when the keypair was generated"
            )));
        }
        l => {
            return Err(KeyError::Invalid(format!(
                "PEM block \"{l}\" is not a private key: expected \"RSA PRIVATE KEY\" or \"PRIVATE KEY\""
            )));
        }
    }
    if body.contains(':') {
        // PKCS#1 with "Proc-Type: 4,ENCRYPTED" / "DEK-Info:" headers.
        return Err(KeyError::Invalid(
            "encrypted private keys are not supported: decrypt it first (openssl rsa -in key.pem -out plain.pem)".into(),
        ));
    }
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if b64.is_empty()
        || !b64
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return Err(KeyError::Invalid(format!(
            "the \"{label}\" PEM block does not contain valid base64"
        )));
    }
    let pem = canonical_pem(&label, &b64);
    let key = if label == "RSA PRIVATE KEY" {
        RsaPrivateKey::from_pkcs1_pem(&pem).map_err(|_| {
            KeyError::Invalid("the \"RSA PRIVATE KEY\" PEM block is not a valid PKCS#1 RSA key (truncated or damaged?)".into())
        })?
    } else {
        check_pkcs8_algorithm(&pem)?;
        RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|_| {
            KeyError::Invalid(
                "the \"PRIVATE KEY\" PEM block is not a valid PKCS#8 RSA key (truncated or damaged?)"
                    .into(),
            )
        })?
    };
    PrivateKey::from_rsa(&key)
}

fn not_rsa(what: &str) -> KeyError {
    KeyError::Invalid(format!(
        "is not an RSA key (found {what}): Docusign JWT Grant needs an RSA private key"
    ))
}

/// Undo the usual paste damage and return the PEM label and the text between the boundaries.
fn split_pem(text: &str) -> Result<(String, String), KeyError> {
    let repaired = text
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let repaired = repaired
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim();
    let not_pem = || {
        KeyError::Invalid(
            "not a PEM key: expected text starting with \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN PRIVATE KEY-----\"".into(),
        )
    };
    let begin = repaired.find("-----BEGIN ").ok_or_else(not_pem)?;
    let after_begin = &repaired[begin + "-----BEGIN ".len()..];
    // The label ends at the next "-----" on the same line, and is a few capital words. Anything
    // else is a damaged BEGIN line: it is refused as such, and nothing after "BEGIN" — which
    // may be the key itself — goes into the message.
    let label_end = after_begin
        .find("-----")
        .filter(|&end| is_pem_label(&after_begin[..end]))
        .ok_or_else(|| {
            KeyError::Invalid(
                "the PEM BEGIN line is damaged: its label must be capital words such as \
                 RSA PRIVATE KEY, closed by five dashes on the same line; the text is not shown"
                    .into(),
            )
        })?;
    let label = after_begin[..label_end].trim().to_string();
    let rest = &after_begin[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = rest.find(&end_marker).ok_or_else(|| {
        KeyError::Invalid(format!(
            "PEM block \"{label}\" has no matching \"{end_marker}\" line (truncated?)"
        ))
    })?;
    Ok((label, rest[..end].to_string()))
}

/// A PEM label as RFC 7468 writes them: a few words of capitals and digits (`RSA PRIVATE KEY`,
/// `PRIVATE KEY`, `EC PRIVATE KEY`, `CERTIFICATE`), on one line, at most 40 characters.
fn is_pem_label(label: &str) -> bool {
    let label = label.trim();
    !label.is_empty()
        && label.len() <= 40
        && label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'#')
}

fn canonical_pem(label: &str, b64: &str) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    let bytes = b64.as_bytes();
    for chunk in bytes.chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Refuse a PKCS#8 key whose algorithm is not RSA, naming the algorithm it is.
fn check_pkcs8_algorithm(pem: &str) -> Result<(), KeyError> {
    use rsa::pkcs8::der::Decode;
    let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(pem).map_err(|_| {
        KeyError::Invalid(
            "the \"PRIVATE KEY\" PEM block is not valid DER (truncated or damaged?)".into(),
        )
    })?;
    let info = rsa::pkcs8::PrivateKeyInfo::from_der(doc.as_bytes()).map_err(|_| {
        KeyError::Invalid(
            "the \"PRIVATE KEY\" PEM block is not a valid PKCS#8 structure (truncated or damaged?)"
                .into(),
        )
    })?;
    let oid = info.algorithm.oid.to_string();
    if oid == RSA_ENCRYPTION_OID {
        return Ok(());
    }
    let what = match oid.as_str() {
        "1.2.840.10045.2.1" => "an EC key".to_string(),
        "1.3.101.112" => "an Ed25519 key".to_string(),
        "1.3.101.113" => "an Ed448 key".to_string(),
        "1.2.840.10040.4.1" => "a DSA key".to_string(),
        "1.2.840.113549.1.1.10" => "an RSA-PSS key (use a plain rsaEncryption key)".to_string(),
        other => format!("a key with algorithm OID {other}"),
    };
    Err(not_rsa(&what))
}

#[cfg(test)]
mod tests;
