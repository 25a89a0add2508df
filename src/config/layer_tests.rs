//! Drop-in files and their interplay with the main file and the environment.

use super::*;

fn key_file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rsa_pkcs1.pem")
        .display()
        .to_string()
}

fn integration(name: &str) -> String {
    format!(
        r#"[[integrations]]
name = "{name}"
environment = "developer"
integration_key = "ik-{name}"
user_id = "uid"
private_key_file = "{}"
account_id = "acc"
organization_id = "org"
event_types = ["customer_events"]
"#,
        key_file()
    )
}

/// A directory with `config.toml` and `conf.d/<name>` for each drop-in.
fn layout(main: &str, dropins: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let main_path = dir.path().join("config.toml");
    std::fs::write(&main_path, main).expect("main");
    std::fs::create_dir(dir.path().join("conf.d")).expect("conf.d");
    for (name, text) in dropins {
        std::fs::write(dir.path().join("conf.d").join(name), text).expect("drop-in");
    }
    (dir, main_path)
}

fn main_text() -> String {
    format!(
        "state_path = \"/tmp/state.db\"\n[[sinks]]\ntype = \"stdout\"\n{}",
        integration("acme")
    )
}

#[test]
fn dropins_add_integrations_and_sinks_in_name_order() {
    let (dir, main) = layout(
        &main_text(),
        &[
            ("20-globex.toml", &integration("globex")),
            ("10-initech.toml", &integration("initech")),
            (
                "30-sink.toml",
                "[[sinks]]\ntype = \"file\"\npath = \"/tmp/x.jsonl\"\n",
            ),
            ("ignored.txt", "not toml"),
        ],
    );
    let cfg = load_with_env(&main, Vec::new()).expect("valid");
    let names: Vec<&str> = cfg.integrations.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["acme", "initech", "globex"]);
    assert_eq!(cfg.sinks.len(), 2);
    let d = dir.path().join("conf.d");
    assert_eq!(
        cfg.files,
        [
            main.clone(),
            d.join("10-initech.toml"),
            d.join("20-globex.toml"),
            d.join("30-sink.toml")
        ]
    );
}

#[test]
fn a_dropin_entry_with_a_known_name_is_merged_into_it() {
    let (_dir, main) = layout(
        &main_text(),
        &[(
            "acme.toml",
            "[[integrations]]\nname = \"acme\"\nstatus = \"inactive\"\n[integrations.customer_events]\npage_size = 10\n",
        )],
    );
    let cfg = load_with_env(&main, Vec::new()).expect("valid");
    assert_eq!(cfg.integrations.len(), 1);
    let acme = &cfg.integrations[0];
    assert_eq!(acme.integration_key, "ik-acme");
    assert_eq!(acme.customer_events.page_size, 10);
    assert!(!acme.is_active());
}

#[test]
fn an_environment_override_by_name_beats_a_dropin() {
    let dropin = format!(
        "{}[integrations.customer_events]\npage_size = 10\n",
        integration("globex")
    );
    let (_dir, main) = layout(&main_text(), &[("globex.toml", &dropin)]);
    let env = vec![(
        "DOCUSIGN_COLLECTOR__INTEGRATIONS__GLOBEX__CUSTOMER_EVENTS__PAGE_SIZE".to_string(),
        "77".to_string(),
    )];
    let cfg = load_with_env(&main, env).expect("valid");
    assert_eq!(cfg.integrations[1].name, "globex");
    assert_eq!(cfg.integrations[1].customer_events.page_size, 77);
}

#[test]
fn an_error_in_a_dropin_names_that_file_and_key() {
    let dropin = format!(
        "{}[integrations.customer_events]\npage_size = 5000\n",
        integration("globex")
    );
    let (dir, main) = layout(&main_text(), &[("globex.toml", &dropin)]);
    let e = load_with_env(&main, Vec::new()).expect_err("out of range");
    let file = dir.path().join("conf.d/globex.toml").display().to_string();
    assert_eq!(e.file, file);
    assert_eq!(e.key, "integrations[1].customer_events.page_size");

    let (dir, main) = layout(
        &main_text(),
        &[("bad.toml", "[[integrations]]\nname = \"x\"\nbogus = 1\n")],
    );
    let e = load_with_env(&main, Vec::new()).expect_err("unknown key");
    assert_eq!(
        e.file,
        dir.path().join("conf.d/bad.toml").display().to_string()
    );
    assert!(e.key.starts_with("integrations[1]"), "{e}");

    let (dir, main) = layout(&main_text(), &[("broken.toml", "[[integrations]\n")]);
    let e = load_with_env(&main, Vec::new()).expect_err("syntax");
    assert_eq!(
        e.file,
        dir.path().join("conf.d/broken.toml").display().to_string()
    );
    assert!(e.key.starts_with("line 1"), "{e}");
}

#[test]
fn duplicate_names_within_one_dropin_are_still_refused() {
    let twice = format!("{}{}", integration("globex"), integration("globex"));
    let (_dir, main) = layout(&main_text(), &[("globex.toml", &twice)]);
    let e = load_with_env(&main, Vec::new()).expect_err("duplicate");
    assert!(e.key.starts_with("integrations[2]"), "{e}");
}

#[test]
fn a_dropin_private_key_replaces_the_main_files_key_file() {
    let pem = std::fs::read_to_string(key_file()).expect("fixture key");
    let dropin = format!(
        "[[integrations]]\nname = \"acme\"\nprivate_key = '''\n{}'''\n",
        pem
    );
    let (_dir, main) = layout(&main_text(), &[("acme-key.toml", &dropin)]);
    let cfg = load_with_env(&main, Vec::new()).expect("valid");
    let acme = &cfg.integrations[0];
    assert!(acme.private_key_file.is_none());
    assert!(acme.private_key.is_some());
}
