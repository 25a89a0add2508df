//! RSA key pairs for the simulator's clients.

use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::EncodePublicKey;

/// Generate a 2048-bit RSA key pair: (private key PKCS#1 PEM `BEGIN RSA PRIVATE KEY`,
/// public key SPKI PEM `BEGIN PUBLIC KEY`).
pub fn generate_key_pair() -> std::io::Result<(String, String)> {
    let mut rng = rand::thread_rng();
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048)
        .map_err(|e| std::io::Error::other(format!("RSA key generation failed: {e}")))?;
    let private_pem = private
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| std::io::Error::other(format!("encoding the RSA private key failed: {e}")))?;
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| std::io::Error::other(format!("encoding the RSA public key failed: {e}")))?;
    Ok((private_pem.to_string(), public_pem))
}
