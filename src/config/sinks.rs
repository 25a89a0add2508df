//! `[[sinks]]` tables: the tagged enum of the sink kinds, and the rules of every sink. Each
//! kind's table, its own rules, its derived name and its build are in its folder
//! (`sinks/<kind>/config.rs`, the kind's `sinks::Component`); this file only dispatches to them.
//! To add a sink: its line in `sink_kinds!` below (and its folder under `sinks/`).

use super::ConfigError;
use crate::sinks::{Component, Sink, SinkError, WrittenFile};
use crate::support::checks::{fail, Checked};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::sinks::file::FileSinkConfig;
pub use crate::sinks::http::{url_without_secrets, HttpSinkConfig, HttpSinkFormat};
pub use crate::sinks::stdout::StdoutSinkConfig;

/// Declares [`SinkConfig`] from one line per kind (`Variant("type", its config type)`) and
/// derives from that list everything that names the kinds: the enum, [`SinkConfig::KINDS`],
/// [`SinkConfig::kind`] and [`SinkConfig::parse`]. So adding a sink here is one line.
macro_rules! sink_kinds {
    ($($variant:ident($kind:literal, $config:ty)),+ $(,)?) => {
        /// One `[[sinks]]` table, by its `type`. `load.rs` reads each table with
        /// [`SinkConfig::parse`] (serde's internally tagged enums lose the key paths of
        /// errors); the derive keeps the enum readable from TOML text in tests.
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(tag = "type")]
        pub enum SinkConfig {
            $(#[serde(rename = $kind)] $variant($config),)+
        }

        impl SinkConfig {
            /// Every `type`, in the order messages list them.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The kind's component: everything else dispatches through it.
            pub fn kind(&self) -> &dyn Component {
                match self {
                    $(SinkConfig::$variant(s) => s,)+
                }
            }

            /// The table of `type = kind` (its `type` key taken out), read by `typed` (which
            /// names the key path of any error under `prefix`); `None` for an unknown kind.
            pub(super) fn parse(
                kind: &str,
                table: toml::Value,
                file: &str,
                prefix: &str,
            ) -> Option<Result<SinkConfig, ConfigError>> {
                match kind {
                    $($kind => Some(super::load::typed(table, file, prefix).map(SinkConfig::$variant)),)+
                    _ => None,
                }
            }
        }
    };
}

sink_kinds! {
    Stdout("stdout", StdoutSinkConfig),
    File("file", FileSinkConfig),
    Http("http", HttpSinkConfig),
}

impl SinkConfig {
    /// [`SinkConfig::KINDS`] for a message: `"stdout", "file" or "http"`.
    pub fn kinds_list() -> String {
        let quoted: Vec<String> = Self::KINDS.iter().map(|k| format!("{k:?}")).collect();
        match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// The sink's name in logs, metrics labels, errors and its acceptance records
    /// ([`Component::name`]: its `name`, else one derived from what it writes to).
    pub fn effective_name(&self) -> String {
        self.kind().name()
    }
}

/// A `SinkConfig` is its kind's component (what `sinks::build` takes).
impl Component for SinkConfig {
    fn given_name(&self) -> Option<&str> {
        self.kind().given_name()
    }
    fn derived_name(&self) -> String {
        self.kind().derived_name()
    }
    fn validate(&self) -> Checked {
        self.kind().validate()
    }
    fn path_keys(&self) -> Vec<(&'static str, &Path)> {
        self.kind().path_keys()
    }
    fn secret_files(&self) -> Vec<(&'static str, &Path)> {
        self.kind().secret_files()
    }
    fn written_files(&self) -> Vec<WrittenFile<'_>> {
        self.kind().written_files()
    }
    fn build(&self) -> Result<Arc<dyn Sink>, SinkError> {
        self.kind().build()
    }
}

/// The rules of `[[sinks]]`, keys from `sinks[i]` on: each sink's name, each kind's own rules,
/// then the identity of every sink among the others.
pub(super) fn check(sinks: &[SinkConfig]) -> Checked {
    for (i, sink) in sinks.iter().enumerate() {
        let k = format!("sinks[{i}]");
        if let Some(n) = sink.given_name() {
            if n.trim().is_empty() {
                fail(format!("{k}.name"), "must not be empty (or leave it out)")?;
            }
            // It goes into every log line, error and metrics label of the sink.
            if n.chars().count() > 200 || n.chars().any(char::is_control) {
                fail(
                    format!("{k}.name"),
                    "must be at most 200 characters, without control characters",
                )?;
            }
        }
        sink.validate().map_err(|e| e.under(&k))?;
    }
    identities(sinks)
}

/// Every sink has its own effective name (it keys the sink's acceptance records, its metrics and
/// its log lines) and its own file: two file sinks on one path, or a dead-letter file that is a
/// file sink's, would cut and rotate each other's lines.
fn identities(sinks: &[SinkConfig]) -> Checked {
    let mut names: Vec<String> = Vec::with_capacity(sinks.len());
    // Every file a sink writes, normalised, with the index of its sink.
    let mut files: Vec<(PathBuf, usize, WrittenFile)> = Vec::new();
    for (i, sink) in sinks.iter().enumerate() {
        let name = sink.effective_name();
        if let Some(j) = names.iter().position(|n| *n == name) {
            let what = if sink.given_name().is_some() {
                "name"
            } else {
                "effective name"
            };
            fail(
                format!("sinks[{i}].name"),
                format!("the {what} {name:?} is also sinks[{j}]'s: give each sink its own name"),
            )?;
        }
        names.push(name);
        for written in sink.written_files() {
            let norm = normalised_path(written.path);
            for (other, j, o) in &files {
                // Two shared files (dead letters) on one path are fine: each batch is appended whole.
                let same = *other == norm && !(written.shared && o.shared);
                // A file sink's rotated files (`path.1` … `path.N`) are its own too.
                let rotation = is_rotation(other, o.rotated, &norm)
                    || is_rotation(&norm, written.rotated, other);
                if same || rotation {
                    fail(
                        format!("sinks[{i}].{}", written.key),
                        format!(
                            "{} is also sinks[{j}]'s {}{}: two sinks writing one file cut and rotate each other's lines; give each its own file",
                            written.path.display(),
                            o.key,
                            if same { "" } else { " (or one of its rotated files)" },
                        ),
                    )?;
                }
            }
            files.push((norm, i, written));
        }
    }
    Ok(())
}

/// Whether `b` is one of `a`'s `n` rotated files (`a.1` … `a.n`).
fn is_rotation(a: &Path, n: u32, b: &Path) -> bool {
    (1..=n).any(|k| {
        let mut r = a.as_os_str().to_owned();
        r.push(format!(".{k}"));
        Path::new(&r) == b
    })
}

/// `path` made absolute (against the working directory) and normalised by its text alone:
/// `.` dropped, `..` taken back, repeated separators collapsed; symbolic links are not followed
/// (the file may not exist yet). Two sinks whose paths normalise alike write the same file.
pub fn normalised_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::build;

    fn parse(toml_text: &str) -> SinkConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn kinds_are_listed_as_messages_write_them() {
        assert_eq!(SinkConfig::kinds_list(), "\"stdout\", \"file\" or \"http\"");
    }

    #[test]
    fn effective_names_given_or_derived() {
        assert_eq!(parse("type = \"stdout\"").effective_name(), "stdout");
        assert_eq!(
            parse("type = \"stdout\"\nname = \"console\"").effective_name(),
            "console"
        );
        assert_eq!(
            parse("type = \"file\"\npath = \"/var/log/e.jsonl\"").effective_name(),
            "file:/var/log/e.jsonl"
        );
        assert_eq!(
            parse("type = \"http\"\nurl = \"https://siem.example.com/in\"").effective_name(),
            "http:https://siem.example.com/in"
        );
        assert_eq!(
            parse("type = \"http\"\nurl = \"https://x/in\"\nname = \"a.b\"").effective_name(),
            "a.b"
        );
    }

    #[test]
    fn a_derived_http_name_carries_no_credentials() {
        let name = parse(
            "type = \"http\"\nurl = \"https://user:pa55@siem.example.com:8443/in?sig=s3cr3t#f\"",
        )
        .effective_name();
        assert_eq!(name, "http:https://siem.example.com:8443/in");
    }

    #[test]
    fn paths_normalise_by_their_text() {
        let n = |p: &str| normalised_path(std::path::Path::new(p));
        assert_eq!(n("/var/log/./x//e.jsonl"), n("/var/log/x/e.jsonl"));
        assert_eq!(n("/var/log/y/../x/e.jsonl"), n("/var/log/x/e.jsonl"));
        assert_ne!(n("/var/log/x/e.jsonl"), n("/var/log/x/f.jsonl"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(n("e.jsonl"), cwd.join("e.jsonl"));
    }

    #[test]
    fn names_default_and_configured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/events.jsonl");
        let sinks = build(&[
            SinkConfig::Stdout(StdoutSinkConfig::default()),
            SinkConfig::Stdout(StdoutSinkConfig {
                name: Some("console".into()),
            }),
            SinkConfig::File(FileSinkConfig {
                name: None,
                path: path.clone(),
                max_bytes: 100,
                max_files: 2,
            }),
        ])
        .unwrap();
        let names: Vec<&str> = sinks.as_slice().iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            vec!["stdout", "console", &format!("file:{}", path.display())]
        );
        assert!(path.exists(), "file opened at build time");
    }

    #[test]
    fn http_sink_is_built_and_named() {
        let cfg: SinkConfig =
            toml::from_str("type = \"http\"\nurl = \"https://siem.example.com/in\"").unwrap();
        let sinks = build(&[cfg]).unwrap();
        assert_eq!(
            sinks.as_slice()[0].name(),
            "http:https://siem.example.com/in"
        );
    }

    #[test]
    fn two_sinks_with_one_name_are_refused() {
        let cfg: SinkConfig = toml::from_str("type = \"http\"\nurl = \"https://x/in\"").unwrap();
        match build(&[cfg.clone(), cfg]) {
            Err(SinkError::Config { sink, message }) => {
                assert_eq!(sink, "http:https://x/in");
                assert!(message.contains("own name"), "{message}");
            }
            _ => panic!("expected a config error"),
        }
    }

    #[test]
    fn bad_file_path_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("notadir");
        std::fs::write(&blocker, b"").unwrap();
        let res = build(&[SinkConfig::File(FileSinkConfig {
            name: None,
            path: blocker.join("e.jsonl"),
            max_bytes: 100,
            max_files: 2,
        })]);
        match res {
            Err(SinkError::Config { sink, message }) => {
                assert!(sink.starts_with("file:"), "{sink}");
                assert!(message.contains("notadir/e.jsonl"), "{message}");
            }
            _ => panic!("expected a config error"),
        }
    }
}
