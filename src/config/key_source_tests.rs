//! An integration's key settings (`private_key_file`, `private_key`) reach the key loader of
//! `support::key` as its [`KeySource`](crate::support::key::KeySource): one of the two, never
//! both, and a file's errors name the file. (Here rather than beside the loader, which sits in a
//! lower layer and knows nothing of the configuration.)

use super::IntegrationConfig;
use crate::support::key::{load, KeyError, PrivateKey};
use crate::support::secret::Secret;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

fn load_cfg(i: &IntegrationConfig) -> Result<PrivateKey, KeyError> {
    load(i.key_source())
}

fn integration(file: Option<&str>, inline: Option<&str>) -> IntegrationConfig {
    let toml = r#"
name = "t"
environment = "developer"
integration_key = "ik"
user_id = "uid"
"#;
    let mut i: IntegrationConfig = match toml::from_str(toml) {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    };
    i.private_key_file = file.map(PathBuf::from);
    i.private_key = inline.map(Secret::new);
    i
}

#[test]
fn load_from_file_inline_missing_both() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let file = dir.join("rsa_pkcs1.pem");
    load_cfg(&integration(file.to_str(), None)).expect("file");
    load_cfg(&integration(None, Some(&fixture("rsa_pkcs8.pem")))).expect("inline");
    assert!(matches!(
        load_cfg(&integration(None, None)),
        Err(KeyError::Missing)
    ));
    assert!(matches!(
        load_cfg(&integration(file.to_str(), Some("x"))),
        Err(KeyError::Both)
    ));
    let missing = dir.join("does-not-exist.pem");
    let e = load_cfg(&integration(missing.to_str(), None)).expect_err("missing");
    assert!(matches!(e, KeyError::Unreadable { .. }), "{e:?}");
    assert!(e.to_string().contains("does-not-exist.pem"), "{e}");
    let e = load_cfg(&integration(dir.to_str(), None)).expect_err("directory");
    assert!(e.to_string().contains("directory"), "{e}");
    let ec = dir.join("ec.pem");
    let e = load_cfg(&integration(ec.to_str(), None)).expect_err("ec");
    assert!(
        e.to_string().contains("ec.pem") && e.to_string().contains("is not an RSA key"),
        "{e}"
    );
}
