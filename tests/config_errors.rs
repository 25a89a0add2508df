//! `docusign-collector --config FILE check-config`: exit 78 and an error naming the key and the
//! file for each kind of invalid configuration; exit 0 for a valid one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXIT_CONFIG: i32 = 78;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A valid configuration with one integration; `{KEY}` is the private key file.
fn valid() -> String {
    format!(
        r#"state_path = "/tmp/docusign-collector-test.db"

[[integrations]]
name = "acme"
environment = "developer"
integration_key = "11111111-2222-3333-4444-555555555555"
user_id = "66666666-7777-8888-9999-000000000000"
private_key_file = "{}"
account_id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
organization_id = "ffffffff-0000-1111-2222-333333333333"
event_types = ["customer_events", "audit_users"]

[integrations.customer_events]
interval = "60s"
page_size = 1000

[[sinks]]
type = "stdout"
"#,
        fixture("rsa_pkcs1.pem").display()
    )
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    path: String,
}

fn check(text: &str, env: &[(&str, &str)]) -> Outcome {
    let mut file = match tempfile::NamedTempFile::new() {
        Ok(f) => f,
        Err(e) => panic!("temp file: {e}"),
    };
    if let Err(e) = file.write_all(text.as_bytes()) {
        panic!("write temp config: {e}");
    }
    run(file.path(), env)
}

fn run(path: &Path, env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docusign-collector"));
    cmd.arg("--config").arg(path).arg("check-config");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy()
            .to_ascii_uppercase()
            .starts_with("DOCUSIGN_COLLECTOR")
        {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run the binary: {e}"),
    };
    Outcome {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        path: path.display().to_string(),
    }
}

fn assert_invalid(o: &Outcome, key: &str, words: &str) {
    assert_eq!(o.code, Some(EXIT_CONFIG), "stderr: {}", o.stderr);
    assert!(o.stderr.contains(&o.path), "file not named: {}", o.stderr);
    assert!(
        o.stderr.contains(key),
        "key {key:?} not named: {}",
        o.stderr
    );
    assert!(
        o.stderr.contains(words),
        "expected {words:?} in: {}",
        o.stderr
    );
}

#[test]
fn valid_config_exits_0() {
    let o = check(&valid(), &[]);
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
}

#[test]
fn unknown_key() {
    let text = valid().replace("page_size = 1000", "page_size = 1000\npagesize = 5");
    let o = check(&text, &[]);
    assert_invalid(
        &o,
        "integrations[0].customer_events.pagesize",
        "unknown field",
    );
    assert!(
        o.stderr.contains("page_size"),
        "expected keys listed: {}",
        o.stderr
    );
}

#[test]
fn unknown_key_in_a_sink() {
    let text = valid().replace(
        "type = \"stdout\"",
        "type = \"file\"\npath = \"/tmp/x.jsonl\"\nmax_size = 5",
    );
    let o = check(&text, &[]);
    assert_invalid(&o, "sinks[0].max_size", "unknown field");
}

#[test]
fn duplicate_name() {
    let text = valid();
    let second = text
        [text.find("[[integrations]]").unwrap_or(0)..text.find("[[sinks]]").unwrap_or(0)]
        .to_string();
    let o = check(&format!("{text}\n{second}"), &[]);
    assert_invalid(&o, "integrations[1].name", "duplicate");
}

#[test]
fn malformed_name() {
    let o = check(
        &valid().replace("name = \"acme\"", "name = \"Acme Corp\""),
        &[],
    );
    assert_invalid(&o, "integrations[0].name", "a-z");
}

#[test]
fn page_size_out_of_range() {
    let o = check(
        &valid().replace("page_size = 1000", "page_size = 5000"),
        &[],
    );
    assert_invalid(&o, "integrations[0].customer_events.page_size", "1..=2000");
}

#[test]
fn bad_duration() {
    let o = check(
        &valid().replace("interval = \"60s\"", "interval = \"sixty\""),
        &[],
    );
    assert_invalid(&o, "integrations[0].customer_events.interval", "\"90s\"");
}

#[test]
fn missing_key_file() {
    let missing = fixture("no-such-key.pem");
    let text = valid().replace(
        &fixture("rsa_pkcs1.pem").display().to_string(),
        &missing.display().to_string(),
    );
    let o = check(&text, &[]);
    assert_invalid(&o, "integrations[0].private_key_file", "no-such-key.pem");
}

#[test]
fn unreadable_key_file() {
    let dir = fixture("");
    let text = valid().replace(
        &fixture("rsa_pkcs1.pem").display().to_string(),
        &dir.display().to_string(),
    );
    let o = check(&text, &[]);
    assert_invalid(&o, "integrations[0].private_key_file", "directory");
}

#[test]
fn key_that_is_not_rsa() {
    let text = valid().replace("rsa_pkcs1.pem", "ec.pem");
    let o = check(&text, &[]);
    assert_invalid(&o, "integrations[0].private_key_file", "is not an RSA key");
}

#[test]
fn audit_users_without_organization_id() {
    let text = valid().replace(
        "organization_id = \"ffffffff-0000-1111-2222-333333333333\"\n",
        "",
    );
    let o = check(&text, &[]);
    assert_invalid(&o, "integrations[0].organization_id", "audit_users");
}

#[test]
fn missing_config_file() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    let path = dir.path().join("absent.toml");
    let o = run(&path, &[]);
    assert_eq!(o.code, Some(EXIT_CONFIG), "stderr: {}", o.stderr);
    assert!(o.stderr.contains("absent.toml"), "{}", o.stderr);
    assert!(o.stderr.contains("cannot read"), "{}", o.stderr);
}

#[test]
fn env_override_that_breaks_a_valid_file() {
    let var = "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__CUSTOMER_EVENTS__PAGE_SIZE";
    let o = check(&valid(), &[(var, "0")]);
    assert_invalid(&o, "integrations[0].customer_events.page_size", var);
}

#[test]
fn env_override_that_fixes_a_value_is_accepted() {
    let text = valid().replace("page_size = 1000", "page_size = 5000");
    let o = check(
        &text,
        &[
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__0__CUSTOMER_EVENTS__PAGE_SIZE",
                "500",
            ),
            ("DOCUSIGN_COLLECTOR__LOG__LEVEL", "debug"),
            ("DOCUSIGN_COLLECTOR_FAULT", "anything"),
        ],
    );
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
}
