//! Sealing secrets at rest with AES-256-GCM: the settings of integrations created through the
//! local API (which hold their private keys) are stored as `sealed:v2:<hex nonce‖ciphertext>`,
//! with the integration's name as associated data, so a row copied onto another integration's
//! row does not open. `sealed:v1:` (no associated data, earlier versions) still opens, and is
//! resealed as v2 at start. The 256-bit key comes from a file (`[api] seal_key_file`): 32 raw
//! bytes or 64 hex digits; [`SealKeys`] adds the previous keys of a rotation.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use std::path::Path;

/// Marks sealed text bound to its integration's name (associated data).
pub const SEALED_PREFIX: &str = "sealed:v2:";
/// Sealed text of earlier versions, without associated data (still opened, then resealed).
pub const SEALED_V1_PREFIX: &str = "sealed:v1:";
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

    /// Seal `plain` with a fresh random nonce, bound to `aad` (the integration's name): the
    /// text opens only with the same `aad`.
    pub fn seal(&self, plain: &str, aad: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: aad.as_bytes(),
        };
        // Encryption fails only for inputs beyond GCM's length limit (64 GiB).
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = String::with_capacity(SEALED_PREFIX.len() + 2 * (NONCE_LEN + sealed.len()));
        out.push_str(SEALED_PREFIX);
        for b in nonce.iter().chain(sealed.iter()) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Open text made by [`SealKey::seal`] with the same `aad` (v2), or by an earlier version
    /// (v1, no associated data).
    pub fn open(&self, text: &str, aad: &str) -> Result<String, SealError> {
        let (hex, aad) = if let Some(h) = text.strip_prefix(SEALED_PREFIX) {
            (h, aad.as_bytes())
        } else if let Some(h) = text.strip_prefix(SEALED_V1_PREFIX) {
            (h, &b""[..])
        } else {
            return Err(SealError::Open("not sealed"));
        };
        let bytes = decode_hex(hex).ok_or(SealError::Open("not hex"))?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open("too short"));
        }
        let (nonce, msg) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg, aad })
            .map_err(|_| {
                SealError::Open(
                    "wrong seal key, altered data, or a row copied from another integration",
                )
            })?;
        String::from_utf8(plain).map_err(|_| SealError::Open("not text"))
    }
}

/// The current seal key and the previous ones of a rotation (`[api] previous_seal_key_files`).
#[derive(Clone, Debug)]
pub struct SealKeys {
    pub current: SealKey,
    pub previous: Vec<SealKey>,
}

/// Text opened by [`SealKeys::open`].
pub struct Opened {
    pub plain: String,
    /// Sealed as v1 or under a previous key: seal it again under the current key.
    pub stale: bool,
}

impl SealKeys {
    /// Open with the current key, else with each previous key in turn.
    pub fn open(&self, text: &str, aad: &str) -> Result<Opened, SealError> {
        let v1 = text.starts_with(SEALED_V1_PREFIX);
        let first = match self.current.open(text, aad) {
            Ok(plain) => return Ok(Opened { plain, stale: v1 }),
            Err(e) => e,
        };
        for k in &self.previous {
            if let Ok(plain) = k.open(text, aad) {
                return Ok(Opened { plain, stale: true });
            }
        }
        Err(first)
    }
}

/// Whether `text` was sealed (else it was stored in the clear by an earlier version).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX) || text.starts_with(SEALED_V1_PREFIX)
}

/// `plain` sealed as earlier versions did (`sealed:v1:`, no associated data): for tests of the
/// upgrade path only.
#[cfg(test)]
pub(crate) fn seal_v1_for_tests(key: &[u8; 32], plain: &str) -> String {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher.encrypt(&nonce, plain.as_bytes()).unwrap_or_default();
    let hex: String = nonce
        .iter()
        .chain(sealed.iter())
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{SEALED_V1_PREFIX}{hex}")
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
        let s = k.seal("-----BEGIN PRIVATE KEY-----", "acme");
        assert!(is_sealed(&s) && s.starts_with("sealed:v2:") && !s.contains("PRIVATE"));
        assert_ne!(
            s,
            k.seal("-----BEGIN PRIVATE KEY-----", "acme"),
            "fresh nonce"
        );
        assert_eq!(k.open(&s, "acme").unwrap(), "-----BEGIN PRIVATE KEY-----");
        assert!(SealKey::from_bytes(&[8; 32]).open(&s, "acme").is_err());
        assert!(k.open("sealed:v2:zz", "acme").is_err());
        assert!(format!("{k:?}").contains("redacted"));
    }

    #[test]
    fn the_name_is_bound_and_cannot_be_stripped() {
        let k = SealKey::from_bytes(&[7; 32]);
        let s = k.seal("settings", "acme");
        let e = k.open(&s, "beta").unwrap_err().to_string();
        assert!(e.contains("another integration"), "{e}");
        // Relabelled as v1 (no associated data) it does not open either.
        let relabelled = s.replacen(SEALED_PREFIX, SEALED_V1_PREFIX, 1);
        assert!(k.open(&relabelled, "acme").is_err());
    }

    fn seal_v1(k: &[u8; 32], plain: &str) -> String {
        seal_v1_for_tests(k, plain)
    }

    #[test]
    fn v1_and_previous_keys_open_as_stale() {
        let (a, b) = ([1; 32], [2; 32]);
        let keys = SealKeys {
            current: SealKey::from_bytes(&b),
            previous: vec![SealKey::from_bytes(&a)],
        };
        let fresh = keys.open(&keys.current.seal("x", "n"), "n").unwrap();
        assert!(!fresh.stale && fresh.plain == "x");
        let old_key = keys
            .open(&SealKey::from_bytes(&a).seal("y", "n"), "n")
            .unwrap();
        assert!(old_key.stale && old_key.plain == "y");
        let v1 = keys.open(&seal_v1(&b, "z"), "any").unwrap();
        assert!(v1.stale && v1.plain == "z");
        let v1_old = keys.open(&seal_v1(&a, "w"), "any").unwrap();
        assert!(v1_old.stale && v1_old.plain == "w");
        let lost = SealKey::from_bytes(&[3; 32]).seal("v", "n");
        assert!(keys.open(&lost, "n").is_err());
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
        assert_eq!(b.open(&a.seal("x", "n"), "n").unwrap(), "x");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "short").unwrap();
        let e = SealKey::from_file(&bad).unwrap_err().to_string();
        assert!(e.contains("openssl rand -hex 32"), "{e}");
    }
}
