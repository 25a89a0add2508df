//! Every validation rule and override of the configuration, one test each (long because the rules
//! are many; each test is independent).

use super::*;
use crate::record::EventType;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// One valid integration (key file from the fixtures) and no sinks.
fn base() -> String {
    format!(
        r#"state_path = "/tmp/state.db"
[[integrations]]
name = "acme"
environment = "developer"
integration_key = "ik"
user_id = "uid"
private_key_file = "{}"
account_id = "acc"
organization_id = "org"
event_types = ["customer_events"]
"#,
        fixture("rsa_pkcs1.pem")
    )
}

fn ok(text: &str) -> Config {
    match from_toml_str(text, "test.toml") {
        Ok(c) => c,
        Err(e) => panic!("expected a valid configuration, got: {e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match from_toml_str(text, "test.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_err(text: &str, key: &str, words: &str) {
    let e = err(text);
    assert_eq!(e.file, "test.toml");
    assert_eq!(e.key, key, "{e}");
    assert!(e.message.contains(words), "expected {words:?} in {e}");
    assert_eq!(e.to_string(), format!("test.toml: {key}: {}", e.message));
}

fn with(extra: &str) -> String {
    format!("{}{extra}", base())
}

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn base_is_valid_with_defaults() {
    let c = ok(&base());
    assert_eq!(c.log.level, "info");
    assert!(c.sinks.is_empty());
    let i = &c.integrations[0];
    assert_eq!(i.customer_events.page_size, 2000);
    assert_eq!(i.customer_events.interval.0, Duration::from_secs(60));
    assert_eq!(i.audit_users.enrich_concurrency, 4);
    assert!(i.is_active());
}

#[test]
fn example_toml_loads_and_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let cfg = load_with_env(
        &path,
        env(&[
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__PRIVATE_KEY_FILE",
                &fixture("rsa_pkcs8.pem"),
            ),
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__HTTP__CA_FILE",
                &fixture("ca.pem"),
            ),
            ("DOCUSIGN_COLLECTOR__API__TOKEN_FILE", &fixture("api-token")),
            (
                "DOCUSIGN_COLLECTOR__SINKS__SIEM__TOKEN_FILE",
                &fixture("siem-token"),
            ),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.source.as_deref(), Some(path.as_path()));
    assert_eq!(cfg.integrations.len(), 1);
    assert_eq!(cfg.sinks.len(), 3);
    assert!(cfg.api.is_some());
    match &cfg.sinks[2] {
        SinkConfig::Http(h) => {
            assert!(h.gzip);
            assert_eq!(
                h.headers.get("X-Source").map(String::as_str),
                Some("docusign-collector")
            );
        }
        other => panic!("expected the http sink, got {other:?}"),
    }
}

#[test]
fn example_toml_without_overrides_names_a_missing_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let e = load_with_env(&path, Vec::new()).expect_err("files in /etc do not exist here");
    assert!(e.file.ends_with("example.toml"), "{e}");
    assert!(e.key.contains("file"), "{e}");
}

#[test]
fn env_overrides_by_index_and_by_name_with_conversion() {
    let text =
        with("[[sinks]]\ntype = \"http\"\nname = \"siem\"\nurl = \"https://siem.example.com\"\n");
    let f = write_temp(&text);
    let cfg = load_with_env(
        f.path(),
        env(&[
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__0__CUSTOMER_EVENTS__PAGE_SIZE",
                "500",
            ),
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__CHANGE_KEYS",
                "true",
            ),
            (
                "docusign_collector__integrations__acme__audit_users__enrich",
                "false",
            ),
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__EVENT_TYPES",
                "customer_events, audit_users",
            ),
            ("DOCUSIGN_COLLECTOR__SINKS__SIEM__GZIP", "true"),
            ("DOCUSIGN_COLLECTOR__SINKS__0__BATCH_MAX_EVENTS", "42"),
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__RATE_LIMIT__PER_HOUR",
                "500",
            ),
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__RETRY__MAX_ATTEMPTS",
                "3",
            ),
            ("DOCUSIGN_COLLECTOR__SHUTDOWN_TIMEOUT", "5s"),
            ("DOCUSIGN_COLLECTOR__LOG__LEVEL", "debug"),
            ("DOCUSIGN_COLLECTOR__STATE_PATH", "/tmp/s.db"),
            ("DOCUSIGN_COLLECTOR_CONFIG", "/nowhere.toml"),
            ("DOCUSIGN_COLLECTOR_FAULT", "x"),
            ("OTHER", "y"),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let i = &cfg.integrations[0];
    assert_eq!(i.customer_events.page_size, 500);
    assert_eq!(i.rate_limit.per_hour, 500);
    assert_eq!(i.retry.max_attempts, 3);
    assert_eq!(cfg.shutdown_timeout.0, std::time::Duration::from_secs(5));
    assert!(i.change_keys);
    assert!(!i.audit_users.enrich);
    assert_eq!(
        i.event_types,
        vec![EventType::CustomerEvents, EventType::AuditUsers]
    );
    assert_eq!(cfg.log.level, "debug");
    assert_eq!(cfg.state_path, PathBuf::from("/tmp/s.db"));
    match &cfg.sinks[0] {
        SinkConfig::Http(h) => {
            assert!(h.gzip);
            assert_eq!(h.batch_max_events, 42);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_private_key_replaces_the_key_file_and_empty_removes() {
    let f = write_temp(&base());
    let pem = std::fs::read_to_string(fixture("rsa_pkcs8.pem")).expect("fixture");
    let cfg = load_with_env(
        f.path(),
        env(&[
            (
                "DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__PRIVATE_KEY",
                &pem.replace('\n', " "),
            ),
            ("DOCUSIGN_COLLECTOR__INTEGRATIONS__ACME__ACCOUNT_ID", ""),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let i = &cfg.integrations[0];
    assert!(i.private_key_file.is_none());
    assert!(i.private_key.is_some());
    assert!(i.account_id.is_none());
}

#[test]
fn env_errors_name_the_variable() {
    let f = write_temp(&base());
    let e = load_with_env(
        f.path(),
        env(&[("DOCUSIGN_COLLECTOR__INTEGRATIONS__NOPE__USER_ID", "x")]),
    )
    .expect_err("unknown name");
    assert_eq!(e.key, "integrations");
    assert!(
        e.message
            .contains("DOCUSIGN_COLLECTOR__INTEGRATIONS__NOPE__USER_ID"),
        "{e}"
    );
    assert!(e.message.contains("acme"), "{e}");

    let var = "DOCUSIGN_COLLECTOR__INTEGRATIONS__0__CUSTOMER_EVENTS__PAGE_SIZE";
    let e = load_with_env(f.path(), env(&[(var, "many")])).expect_err("not a number");
    assert_eq!(e.key, "integrations[0].customer_events.page_size");
    assert!(e.message.contains(var), "{e}");

    let e = load_with_env(
        f.path(),
        env(&[("DOCUSIGN_COLLECTOR__LOGG__LEVEL", "debug")]),
    )
    .expect_err("unknown key");
    assert_eq!(e.key, "logg");
    assert!(
        e.message.contains("unknown field")
            && e.message.contains("DOCUSIGN_COLLECTOR__LOGG__LEVEL"),
        "{e}"
    );
}

#[test]
fn missing_file_names_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let p = dir.path().join("absent.toml");
    let e = load_with_env(&p, Vec::new()).expect_err("missing");
    assert!(e.to_string().contains("absent.toml"), "{e}");
}

#[test]
fn syntax_error_names_the_line() {
    let e = err("state_path = \"/x\"\nlog = [\n");
    assert!(e.key.starts_with("line "), "{e}");
    assert!(e.message.contains("TOML syntax error"), "{e}");
}

#[test]
fn unknown_keys_are_refused_everywhere() {
    assert_err(&format!("bogus = 1\n{}", base()), "bogus", "unknown field");
    assert_err(
        &with("[integrations.customer_events]\npagesize = 1\n"),
        "integrations[0].customer_events.pagesize",
        "page_size",
    );
    assert_err(
        &with("[[sinks]]\ntype = \"stdout\"\ncolour = true\n"),
        "sinks[0].colour",
        "unknown field",
    );
    assert_err(
        &with("[[sinks]]\ntype = \"file\"\npath = \"/tmp/x\"\nsize = 1\n"),
        "sinks[0].size",
        "max_bytes",
    );
    assert_err(
        &with("[[sinks]]\ntype = \"kafka\"\n"),
        "sinks[0].type",
        "unknown sink type",
    );
    assert_err(
        &with("[[sinks]]\nurl = \"https://x\"\n"),
        "sinks[0].type",
        "missing",
    );
    assert_err(
        &with("[[sinks]]\ntype = \"http\"\n"),
        "sinks[0].url",
        "required",
    );
}

#[test]
fn missing_required_field_names_it() {
    let text = base().replace("user_id = \"uid\"\n", "");
    assert_err(&text, "integrations[0].user_id", "required");
}

#[test]
fn integration_names() {
    assert_err(
        &base().replace("\"acme\"", "\"Acme\""),
        "integrations[0].name",
        "a-z",
    );
    assert_err(
        &base().replace("\"acme\"", "\"\""),
        "integrations[0].name",
        "a-z",
    );
    let long = "a".repeat(65);
    assert_err(
        &base().replace("\"acme\"", &format!("\"{long}\"")),
        "integrations[0].name",
        "64",
    );
    ok(&base().replace("\"acme\"", &format!("\"{}\"", "a".repeat(64))));
    ok(&base().replace("\"acme\"", "\"acme_2-prod\""));
    let body = base();
    let second = &body[body.find("[[integrations]]").expect("table")..];
    assert_err(
        &format!("{body}{second}"),
        "integrations[1].name",
        "duplicate",
    );
}

#[test]
fn required_strings_and_event_types() {
    assert_err(
        &base().replace("integration_key = \"ik\"", "integration_key = \" \""),
        "integrations[0].integration_key",
        "empty",
    );
    assert_err(
        &base().replace("user_id = \"uid\"", "user_id = \"\""),
        "integrations[0].user_id",
        "empty",
    );
    assert_err(
        &base().replace("[\"customer_events\"]", "[]"),
        "integrations[0].event_types",
        "at least one",
    );
    assert_err(
        &base().replace(
            "[\"customer_events\"]",
            "[\"customer_events\", \"customer_events\"]",
        ),
        "integrations[0].event_types",
        "twice",
    );
}

#[test]
fn ranges() {
    assert_err(
        &with("[integrations.customer_events]\npage_size = 0\n"),
        "integrations[0].customer_events.page_size",
        "1..=2000",
    );
    assert_err(
        &with("[integrations.customer_events]\npage_size = 2001\n"),
        "integrations[0].customer_events.page_size",
        "1..=2000",
    );
    ok(&with("[integrations.customer_events]\npage_size = 1\n"));
    assert_err(
        &with("[integrations.audit_users]\npage_size = 251\n"),
        "integrations[0].audit_users.page_size",
        "1..=250",
    );
    assert_err(
        &with("[integrations.audit_users]\nenrich_concurrency = 0\n"),
        "integrations[0].audit_users.enrich_concurrency",
        "1..=32",
    );
    assert_err(
        &with("[integrations.audit_users]\nenrich_concurrency = 33\n"),
        "integrations[0].audit_users.enrich_concurrency",
        "1..=32",
    );
    assert_err(
        &with("[integrations.customer_events]\npage_size = -1\n"),
        "integrations[0].customer_events.page_size",
        "",
    );
}

#[test]
fn durations_and_start_from() {
    assert_err(
        &with("[integrations.customer_events]\ninterval = \"0s\"\n"),
        "integrations[0].customer_events.interval",
        "at least 1s",
    );
    assert_err(
        &with("[integrations.audit_users]\ninterval = \"500ms\"\n"),
        "integrations[0].audit_users.interval",
        "at least 1s",
    );
    assert_err(
        &with("[integrations.http]\ntimeout = \"0s\"\n"),
        "integrations[0].http.timeout",
        "at least 1s",
    );
    assert_err(
        &with("[integrations.customer_events]\ninterval = \"soon\"\n"),
        "integrations[0].customer_events.interval",
        "\"5m\"",
    );
    assert_err(
        &with("[integrations.customer_events]\nstart_from = \"yesterday\"\n"),
        "integrations[0].customer_events.start_from",
        "RFC 3339",
    );
    let c = ok(&with(
        "[integrations.customer_events]\nstart_from = 2024-01-01T00:00:00Z\n",
    ));
    assert_eq!(
        c.integrations[0].customer_events.start_from,
        StartFrom::At(1_704_067_200)
    );
    let c = ok(&with("[integrations.audit_users]\nstart_from = \"7d\"\n"));
    assert_eq!(
        c.integrations[0].audit_users.start_from,
        StartFrom::Lookback(Duration::from_secs(7 * 86400))
    );
}

#[test]
fn private_key_rules() {
    let file_line = format!("private_key_file = \"{}\"\n", fixture("rsa_pkcs1.pem"));
    let no_key = base().replace(&file_line, "");
    assert_err(&no_key, "integrations[0].private_key", "no private key");
    assert_err(
        &base().replace(&file_line, &format!("{file_line}private_key = \"x\"\n")),
        "integrations[0].private_key_file",
        "keep one",
    );
    assert_err(
        &base().replace("rsa_pkcs1.pem", "missing.pem"),
        "integrations[0].private_key_file",
        "missing.pem",
    );
    assert_err(
        &base().replace("rsa_pkcs1.pem", "ec.pem"),
        "integrations[0].private_key_file",
        "is not an RSA key",
    );
    assert_err(
        &base().replace("rsa_pkcs1.pem", "ca.pem"),
        "integrations[0].private_key_file",
        "not a private key",
    );
    assert_err(
        &no_key.replace("event_types", "private_key = \"not a key\"\nevent_types"),
        "integrations[0].private_key",
        "not a PEM key",
    );
    let pem = std::fs::read_to_string(fixture("rsa_pkcs1.pem")).expect("fixture");
    ok(&no_key.replace(
        "event_types",
        &format!(
            "private_key = '{}'\nevent_types",
            pem.trim().replace('\n', "\\n")
        ),
    ));
}

#[test]
fn ids_required_by_apis() {
    let au = base().replace("[\"customer_events\"]", "[\"audit_users\"]");
    ok(&au);
    assert_err(
        &au.replace("organization_id = \"org\"\n", ""),
        "integrations[0].organization_id",
        "audit_users",
    );
    assert_err(
        &au.replace("account_id = \"acc\"\n", ""),
        "integrations[0].account_id",
        "audit_users",
    );
    let v1 = with("[integrations.customer_events]\napi = \"v1\"\n")
        .replace("organization_id = \"org\"\n", "");
    assert_err(&v1, "integrations[0].organization_id", "v1");
}

#[test]
fn urls_and_ca_files() {
    assert_err(
        &with("[integrations.endpoints]\nmonitor = \"lens.docusign.net\"\n"),
        "integrations[0].endpoints.monitor",
        "URL",
    );
    assert_err(
        &with("[integrations.endpoints]\noauth = \"ftp://x\"\n"),
        "integrations[0].endpoints.oauth",
        "http(s)",
    );
    assert_err(
        &base().replace(
            "[[integrations]]",
            "[[integrations]]\nredirect_url = \"localhost\"",
        ),
        "integrations[0].redirect_url",
        "URL",
    );
    assert_err(
        &with(&format!(
            "[integrations.http]\nca_file = \"{}\"\n",
            fixture("api-token")
        )),
        "integrations[0].http.ca_file",
        "no PEM certificate",
    );
    assert_err(
        &with("[integrations.http]\nca_file = \"/no/such/ca.pem\"\n"),
        "integrations[0].http.ca_file",
        "cannot read",
    );
    ok(&with(&format!(
        "[integrations.http]\nca_file = \"{}\"\nproxy = \"http://proxy:3128\"\n",
        fixture("ca.pem")
    )));
    assert_err(
        &with("[integrations.http]\nproxy = \"proxy:3128\"\n"),
        "integrations[0].http.proxy",
        "invalid proxy",
    );
}

#[test]
fn log_and_api() {
    assert_err(
        &with("[log]\nlevel = \"verbose\"\n"),
        "log.level",
        "not a level",
    );
    assert_err(
        &with("[log]\nlevel = \"info,docusign_collector=loud\"\n"),
        "log.level",
        "invalid filter",
    );
    ok(&with(
        "[log]\nlevel = \"warn,docusign_collector=debug\"\nformat = \"json\"\n",
    ));
    assert_err(
        &with("[log]\nformat = \"xml\"\n"),
        "log.format",
        "unknown variant",
    );
    let empty = tempfile::NamedTempFile::new().expect("temp");
    let api = |p: &str| {
        with(&format!(
            "[api]\nlisten = \"127.0.0.1:9464\"\ntoken_file = \"{p}\"\n"
        ))
    };
    assert_err(
        &api(&empty.path().display().to_string()),
        "api.token_file",
        "empty",
    );
    assert_err(&api("/no/such/token"), "api.token_file", "cannot read");
    ok(&api(&fixture("api-token")));
    assert_err(&with("[api]\nlisten = \"nowhere\"\n"), "api.listen", "");
}

#[test]
fn sink_rules() {
    assert_err(
        &with("[[sinks]]\ntype = \"file\"\npath = \"\"\n"),
        "sinks[0].path",
        "empty",
    );
    assert_err(
        &with("[[sinks]]\ntype = \"file\"\npath = \"/tmp/x\"\nmax_bytes = 100\n"),
        "sinks[0].max_bytes",
        "1024",
    );
    assert_err(
        &with("[[sinks]]\ntype = \"file\"\npath = \"/tmp/x\"\nmax_files = 0\n"),
        "sinks[0].max_files",
        "at least 1",
    );
    let http = "[[sinks]]\ntype = \"stdout\"\n[[sinks]]\ntype = \"http\"\nurl = \"https://siem\"\n";
    ok(&with(http));
    assert_err(
        &with(&http.replace("https://siem", "siem")),
        "sinks[1].url",
        "URL",
    );
    assert_err(
        &with(&format!("{http}batch_max_events = 0\n")),
        "sinks[1].batch_max_events",
        "at least 1",
    );
    assert_err(
        &with(&format!("{http}batch_max_bytes = 10\n")),
        "sinks[1].batch_max_bytes",
        "1024",
    );
    assert_err(
        &with(&format!("{http}token_file = \"/no/token\"\n")),
        "sinks[1].token_file",
        "cannot read",
    );
    assert_err(
        &with(&format!("{http}ca_file = \"/no/ca.pem\"\n")),
        "sinks[1].ca_file",
        "cannot read",
    );
    assert_err(
        &with(&format!("{http}timeout = \"0s\"\n")),
        "sinks[1].timeout",
        "at least 1s",
    );
    assert_err(
        &with(&format!("{http}format = \"xml\"\n")),
        "sinks[1].format",
        "unknown variant",
    );
    assert_err(
        &with(&format!("{http}[sinks.headers]\n\"bad header\" = \"x\"\n")),
        "sinks[1].headers",
        "header name",
    );
    let named = "[[sinks]]\ntype = \"stdout\"\nname = \"a\"\n[[sinks]]\ntype = \"file\"\nname = \"a\"\npath = \"/tmp/x\"\n";
    assert_err(&with(named), "sinks[1].name", "also sinks[0]'s");
}

#[test]
fn sink_identities_are_unique() {
    let http = |extra: &str| format!("[[sinks]]\ntype = \"http\"\nurl = \"https://x/in\"\n{extra}");
    // Two unnamed HTTP sinks on one URL (two tokens, two indexes) share a derived name.
    let e = err(&with(&format!("{}{}", http(""), http(""))));
    assert_eq!(e.key, "sinks[1].name");
    assert!(
        e.message
            .contains("the effective name \"http:https://x/in\" is also sinks[0]'s"),
        "{e}"
    );
    ok(&with(&format!("{}{}", http(""), http("name = \"b\"\n"))));
    // A given name that is another sink's derived one.
    let e = err(&with(&format!(
        "{}{}",
        http(""),
        http("name = \"http:https://x/in\"\n")
    )));
    assert!(e.message.contains("the name"), "{e}");
    // Two stdout sinks without names.
    let out = "[[sinks]]\ntype = \"stdout\"\n";
    assert_err(&with(&format!("{out}{out}")), "sinks[1].name", "stdout");
    // Two file sinks on one path, also when named and written differently.
    let file = |name: &str, path: &str| {
        format!("[[sinks]]\ntype = \"file\"\nname = \"{name}\"\npath = \"{path}\"\n")
    };
    assert_err(
        &with(&format!(
            "{}{}",
            file("a", "/tmp/x/e.jsonl"),
            file("b", "/tmp/x/./y/../e.jsonl")
        )),
        "sinks[1].path",
        "also sinks[0]'s path",
    );
    // One in the other's rotated files.
    assert_err(
        &with(&format!(
            "{}{}",
            file("a", "/tmp/x/e.jsonl"),
            file("b", "/tmp/x/e.jsonl.3")
        )),
        "sinks[1].path",
        "rotated",
    );
    ok(&with(&format!(
        "{}{}",
        file("a", "/tmp/x/e.jsonl"),
        file("b", "/tmp/x/f.jsonl")
    )));
    // A dead-letter file that is a file sink's; two dead-letter files may share a path.
    let dl = |name: &str| {
        http(&format!(
            "name = \"{name}\"\ndead_letter_path = \"/tmp/x/e.jsonl\"\n"
        ))
    };
    assert_err(
        &with(&format!("{}{}", file("a", "/tmp/x/e.jsonl"), dl("h"))),
        "sinks[1].dead_letter_path",
        "also sinks[0]'s path",
    );
    ok(&with(&format!("{}{}", dl("h1"), dl("h2"))));
    let long = "n".repeat(201);
    assert_err(
        &with(&http(&format!("name = \"{long}\"\n"))),
        "sinks[0].name",
        "200 characters",
    );
    assert_err(
        &with(&http("name = \"a\\tb\"\n")),
        "sinks[0].name",
        "control",
    );
}

#[test]
fn endpoint_defaults_follow_environment_and_api() {
    let c = ok(&base());
    let e = c.integrations[0].endpoints();
    assert_eq!(e.oauth, "https://account-d.docusign.com");
    assert_eq!(e.monitor, "https://lens-d.docusign.net");
    assert_eq!(e.admin, "https://api-d.docusign.net/management");
    let c = ok(&with("[integrations.customer_events]\napi = \"v1\"\n"));
    assert_eq!(
        c.integrations[0].endpoints().monitor,
        "https://api-d.docusign.com"
    );
    let prod = base().replace("\"developer\"", "\"production\"");
    let e = ok(&prod).integrations[0].endpoints();
    assert_eq!(e.oauth, "https://account.docusign.com");
    assert_eq!(e.monitor, "https://lens.docusign.net");
    assert_eq!(e.admin, "https://api.docusign.net/management");
    let c = ok(&format!(
        "{prod}[integrations.customer_events]\napi = \"v1\"\n"
    ));
    assert_eq!(
        c.integrations[0].endpoints().monitor,
        "https://api.docusign.com"
    );
    let c = ok(&base().replace("\"developer\"", "\"stage\""));
    assert_eq!(c.integrations[0].environment, Environment::Developer);
    let c = ok(&with(
        "[integrations.endpoints]\nmonitor = \"http://127.0.0.1:8080/\"\n",
    ));
    let e = c.integrations[0].endpoints();
    assert_eq!(e.monitor, "http://127.0.0.1:8080");
    assert_eq!(e.oauth, "https://account-d.docusign.com");
}

#[test]
fn validate_can_run_again_on_a_loaded_config() {
    let mut c = ok(&base());
    validate(&c, "again").unwrap_or_else(|e| panic!("{e}"));
    c.integrations[0].customer_events.page_size = 0;
    let e = validate(&c, "again").expect_err("out of range");
    assert_eq!(e.file, "again");
    assert_eq!(e.key, "integrations[0].customer_events.page_size");
}

#[test]
fn debug_of_config_hides_inline_key() {
    let pem = std::fs::read_to_string(fixture("rsa_pkcs1.pem")).expect("fixture");
    let file_line = format!("private_key_file = \"{}\"\n", fixture("rsa_pkcs1.pem"));
    let text = base().replace(&file_line, &format!("private_key = '''{pem}'''\n"));
    let c = ok(&text);
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("BEGIN RSA"), "{dbg}");
}

// Found by fuzzing (config target): a variable whose name has a multi-byte character where the
// `DOCUSIGN_COLLECTOR__` prefix ends made the loader panic (a string sliced inside a character).
#[test]
fn a_variable_name_with_a_multibyte_character_at_the_prefix_end_is_ignored() {
    let text = base();
    let vars = env(&[
        ("DOCUSIGN_COLLECTOR_\u{2026}__LOG__LEVEL", "debug"),
        (
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}X",
            "x",
        ),
        ("DOCUSIGN_COLLECTOR__LOG__LEVEL", "warn"),
    ]);
    let c = load_str_with_env(&text, "test.toml", None, vars).expect("valid");
    assert_eq!(c.log.level, "warn");
}

#[test]
fn state_url_and_cluster_are_checked_and_the_url_never_shows() {
    let top = |t: &str| {
        format!(
            "{t}\n{}",
            base().replacen("state_path = \"/tmp/state.db\"\n", "", 1)
        )
    };
    let cfg = ok(&top(
        "state_url = \"postgres://collector:hunter2@db:5432/c\"\n[cluster]\nreplica = \"a\"\nlease = \"10s\"",
    ));
    let cluster = cfg.cluster.clone().unwrap();
    assert_eq!(cluster.replica_name(), "a");
    assert_eq!(cluster.lease.0, std::time::Duration::from_secs(10));
    assert_eq!(cluster.connections, 4);
    assert!(
        !format!("{cfg:?}").contains("hunter2"),
        "Debug hides the URL"
    );
    assert_err(
        &top("state_url = \"mysql://db/c\""),
        "state_url",
        "PostgreSQL URL",
    );
    assert_err(
        &top("[cluster]\nreplica = \"a\""),
        "cluster",
        "needs state_url",
    );
    assert_err(
        &top("state_url = \"postgres://u@db/c\"\n[cluster]\nlease = \"1s\""),
        "cluster.lease",
        "between",
    );
    assert_err(
        &top("state_url = \"postgres://u@db/c\"\n[cluster]\nconnections = 0"),
        "cluster.connections",
        "between 1 and 64",
    );
    assert_err(
        &top("state_url = \"postgres://u@db/c\"\nstate_password_file = \"/nonexistent/pw\""),
        "state_password_file",
        "/nonexistent/pw",
    );
}

#[test]
fn intervals_and_rate_limit_waits_have_upper_bounds() {
    assert_err(
        &with("[integrations.customer_events]\ninterval = \"8d\"\n"),
        "integrations[0].customer_events.interval",
        "at most 7days",
    );
    assert_err(
        &with("[integrations.audit_users]\ninterval = \"100000y\"\n"),
        "integrations[0].audit_users.interval",
        "too long",
    );
    assert_err(
        &with("[integrations.rate_limit]\nmax_wait = \"2h\"\n"),
        "integrations[0].rate_limit.max_wait",
        "one hour",
    );
    assert_err(
        &with("[integrations.rate_limit]\nmax_wait = \"0s\"\n"),
        "integrations[0].rate_limit.max_wait",
        "at least 1s",
    );
    assert_err(
        &with("[integrations.rate_limit]\nmin_spacing = \"61m\"\n"),
        "integrations[0].rate_limit.min_spacing",
        "at most 1h",
    );
    assert_err(
        &with("[integrations.retry]\ninitial = \"1s\"\nmax = \"2h\"\n"),
        "integrations[0].retry.max",
        "at most 1h",
    );
    let c = ok(&with(
        "[integrations.customer_events]\ninterval = \"7d\"\n[integrations.rate_limit]\nmax_wait = \"5s\"\n",
    ));
    assert_eq!(
        c.integrations[0].rate_limit.max_wait.0,
        Duration::from_secs(5)
    );
    assert_eq!(
        ok(&base()).integrations[0].rate_limit.max_wait.0,
        Duration::from_secs(3600),
        "an hour by default"
    );
}
