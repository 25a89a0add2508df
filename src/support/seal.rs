//! Sealing secrets at rest with AES-256-GCM: the settings of integrations created through the
//! local API (which hold their private keys) are stored as `sealed:v1:<hex nonce‖ciphertext>`.
//! The 256-bit key comes from a file (`[api] seal_key_file`): 32 raw bytes or 64 hex digits.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use std::path::Path;

/// Marks sealed text; text without it was written in the clear by an earlier version.
pub const SEALED_PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 12;

/// An AES-256-GCM key. `Debug` never shows it.
#[derive(Clone)]
pub struct SealKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

/// Why sealed text could not be opened or a key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("seal key file {path}: {message}")]
    Key { path: String, message: String },
    #[error("sealed data cannot be opened: {0}")]
    Open(&'static str),
}

impl SealKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> SealKey {
        SealKey {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        }
    }

    /// Read the key file (which may be a systemd credential): 32 raw bytes, or 64 hex digits
    /// (`openssl rand -hex 32`), surrounding whitespace ignored.
    pub fn from_file(path: &Path) -> Result<SealKey, SealError> {
        let err = |message: String| SealError::Key {
            path: path.display().to_string(),
            message,
        };
        let bytes = super::credentials::read(path).map_err(err)?;
        if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(SealKey::from_bytes(&raw));
        }
        let text = std::str::from_utf8(&bytes).unwrap_or("").trim();
        match decode_hex(text).map(<[u8; 32]>::try_from) {
            Some(Ok(raw)) => Ok(SealKey::from_bytes(&raw)),
            _ => Err(err(
                "expected 32 bytes or 64 hex digits (make one with `openssl rand -hex 32`)".into(),
            )),
        }
    }

    /// Seal `plain` with a fresh random nonce.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs beyond GCM's length limit (64 GiB).
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .unwrap_or_default();
        let mut out = String::with_capacity(SEALED_PREFIX.len() + 2 * (NONCE_LEN + sealed.len()));
        out.push_str(SEALED_PREFIX);
        for b in nonce.iter().chain(sealed.iter()) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Open text made by [`SealKey::seal`].
    pub fn open(&self, text: &str) -> Result<String, SealError> {
        let hex = text
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::Open("not sealed"))?;
        let bytes = decode_hex(hex).ok_or(SealError::Open("not hex"))?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open("too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| SealError::Open("wrong seal key or altered data"))?;
        String::from_utf8(plain).map_err(|_| SealError::Open("not text"))
    }
}

/// Whether `text` was sealed (else it was stored in the clear by an earlier version).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_another_key() {
        let k = SealKey::from_bytes(&[7; 32]);
        let s = k.seal("-----BEGIN PRIVATE KEY-----");
        assert!(is_sealed(&s) && !s.contains("PRIVATE"));
        assert_ne!(s, k.seal("-----BEGIN PRIVATE KEY-----"), "fresh nonce");
        assert_eq!(k.open(&s).unwrap(), "-----BEGIN PRIVATE KEY-----");
        assert!(SealKey::from_bytes(&[8; 32]).open(&s).is_err());
        assert!(k.open("sealed:v1:zz").is_err());
        assert!(format!("{k:?}").contains("redacted"));
    }

    #[test]
    fn reads_hex_or_raw_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let hex = dir.path().join("hex");
        std::fs::write(&hex, format!("{}\n", "ab".repeat(32))).unwrap();
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [0xab; 32]).unwrap();
        let a = SealKey::from_file(&hex).unwrap();
        let b = SealKey::from_file(&raw).unwrap();
        assert_eq!(b.open(&a.seal("x")).unwrap(), "x");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "short").unwrap();
        let e = SealKey::from_file(&bad).unwrap_err().to_string();
        assert!(e.contains("openssl rand -hex 32"), "{e}");
    }
}
