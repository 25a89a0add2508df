//! The architecture a program can check, in the spirit of rust-analyzer's `xtask/src/tidy.rs`:
//! ARCHITECTURE.md's "Layers" and the invariants that are about where code may live.
//!
//! It reads every `.rs` file under `src/` as text (no compiler, no dependency) and fails when
//! - a module imports a module of a higher layer, or two modules import each other (a module is
//!   a top-level folder or file of `src/`; its imports are the `crate::x` paths it writes,
//!   `use crate::{x, y}` included);
//! - a module has no layer (a new one must be placed in [`LAYERS`] and in ARCHITECTURE.md);
//! - the database crates (`rusqlite`, `postgres`) appear outside `src/state/`;
//! - a reqwest client is built (`Client::builder`, `ClientBuilder`) outside `src/support/`;
//! - the wall clock is read (`SystemTime::now`, `Utc::now`, `chrono::Local`) outside
//!   `src/support/clock.rs` (`Instant::now`, a monotonic clock, is fine anywhere);
//! - a file is longer than [`MAX_LINES`] lines without a reason in its first ten lines
//!   (a comment saying `Long because: …`).
//!
//! [`ALLOWED`] lists the exceptions, each with its reason. The checker is [`check`], a function of
//! an in-memory tree, so the tests at the bottom plant violations and watch it fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, from the bottom; a module may import its own layer and those below.
const LAYERS: &[&[&str]] = &[
    &["support"],
    &["record"],
    &["telemetry"],
    // A sink kind owns its `[[sinks]]` table's type; `config` gathers the kinds into one enum.
    &["sinks"],
    &["config"],
    &["state"],
    &["docusign"],
    &["sources"],
    &["integrations"],
    &["pipeline"],
    &["cluster"],
    &["api"],
    // The top: nothing imports the application (the commands), not even the local API.
    &["app"],
];

/// Files longer than this need a reason written at their top.
const MAX_LINES: usize = 400;

/// A rule an exception is made to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    Layer,
    Database,
    HttpBuilder,
    WallClock,
    Long,
}

/// The exceptions: (rule, file under `src/`, why).
const ALLOWED: &[(Rule, &str, &str)] = &[
    (
        Rule::Database,
        "config/validate.rs",
        "`state_url` is checked with the driver's own parser (`postgres::Config`), so what \
         check-config accepts is what the state opens; config sits below state and cannot ask it",
    ),
    (
        Rule::WallClock,
        "sinks/http/mod.rs",
        "Retry-After's date form is compared with now; being moved in the house work \
         (sinks as components), which routes it through support::clock::now_system",
    ),
    (
        Rule::Long,
        "sources/admin_users/enrich.rs",
        "being split in the house work (audit users and the state)",
    ),
    (
        Rule::Long,
        "state/postgres/mod.rs",
        "being split in the house work (audit users and the state)",
    ),
    (
        Rule::Long,
        "state/tests.rs",
        "being split in the house work (audit users and the state)",
    ),
    (
        Rule::Long,
        "config/validate.rs",
        "being split in the house work (sinks as components: the sink rules move to sinks/<kind>/)",
    ),
];

/// One broken rule: where, which rule, what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    rule: Rule,
    message: String,
}

/// The module a file under `src/` belongs to: its top-level folder or file (`None` for the
/// crate roots `lib.rs` and `main.rs`, which only declare and call).
fn module_of(file: &str) -> Option<&str> {
    let first = file.split('/').next()?;
    if file.contains('/') {
        return Some(first);
    }
    let stem = first.strip_suffix(".rs")?;
    (stem != "lib" && stem != "main").then_some(stem)
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The text that is code: a line whose first non-blank characters are `//` (comments and doc
/// comments, where paths are only named) is left out.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The modules `text` imports: the first segment after each `crate::`, and each item of a
/// `crate::{a, b::c}` group.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code_lines(text) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            // `docusign_crate::` or `$crate::` are other names.
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| is_ident(c) || c == '$') {
                continue;
            }
            if rest.starts_with('{') {
                // A group may run over several lines: read up to its end in the whole text
                // (`rest` is a piece of `text`, so its offset there is the pointers' distance).
                let start = rest.as_ptr() as usize - text.as_ptr() as usize + 1;
                for item in group_items(&text[start..]) {
                    let name: String = item.trim().chars().take_while(|&c| is_ident(c)).collect();
                    if !name.is_empty() && name != "self" {
                        out.insert(name);
                    }
                }
                continue;
            }
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The top-level items of a `{…}` group whose text starts after the `{`: `a::{b, c}, d}` is
/// `a::{b, c}` and `d`.
fn group_items(body: &str) -> Vec<&str> {
    let (mut items, mut depth, mut from) = (Vec::new(), 0usize, 0);
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&body[from..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[from..]);
    items
}

/// Whether `text` names the crate `krate` as a path's first segment (`rusqlite::…`, `use
/// postgres::…`), not as an inner segment (`state::postgres::PgStore`).
fn names_crate(text: &str, krate: &str) -> bool {
    code_lines(text).any(|line| {
        line.match_indices(krate).any(|(at, _)| {
            let before = &line[..at];
            let after = &line[at + krate.len()..];
            let starts =
                !before.ends_with("::") && !before.chars().next_back().is_some_and(is_ident);
            let ends =
                after.starts_with("::") || after.starts_with(';') || after.starts_with(" as ");
            starts && ends
        })
    })
}

fn names_any(text: &str, needles: &[&str]) -> Option<String> {
    code_lines(text).find_map(|line| {
        needles
            .iter()
            .find(|n| line.contains(*n))
            .map(|n| n.to_string())
    })
}

/// Every violation of the tree `files` (paths under `src/`, `/`-separated, and their text),
/// after the exceptions of `allowed`.
fn check(files: &BTreeMap<String, String>, allowed: &[(Rule, &str, &str)]) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut push = |file: &str, rule: Rule, message: String| {
        if !allowed.iter().any(|(r, f, _)| *r == rule && *f == file) {
            found.push(Violation {
                file: file.to_string(),
                rule,
                message,
            });
        }
    };
    // module → modules it imports, and a file that shows each import.
    let mut graph: BTreeMap<&str, BTreeMap<String, &str>> = BTreeMap::new();
    for (file, text) in files {
        if let Some(module) = module_of(file) {
            let edges = graph.entry(module).or_default();
            for m in imports(text) {
                if m != module {
                    edges.entry(m).or_insert(file);
                }
            }
        }
        for krate in ["rusqlite", "postgres", "tokio_postgres_rustls"] {
            if !file.starts_with("state/") && names_crate(text, krate) {
                push(
                    file,
                    Rule::Database,
                    format!("uses `{krate}` outside src/state/"),
                );
            }
        }
        if !file.starts_with("support/") {
            if let Some(n) = names_any(text, &["Client::builder", "ClientBuilder"]) {
                push(
                    file,
                    Rule::HttpBuilder,
                    format!("builds a reqwest client (`{n}`) outside src/support/"),
                );
            }
        }
        if file != "support/clock.rs" {
            let clocks = ["SystemTime::now", "Utc::now", "chrono::Local", "Local::now"];
            if let Some(n) = names_any(text, &clocks) {
                push(
                    file,
                    Rule::WallClock,
                    format!("reads the wall clock (`{n}`) outside src/support/clock.rs"),
                );
            }
        }
        let lines = text.lines().count();
        let reason = text
            .lines()
            .take(10)
            .any(|l| l.trim_start().starts_with("//") && l.to_lowercase().contains("long because"));
        if lines > MAX_LINES && !reason {
            push(
                file,
                Rule::Long,
                format!("{lines} lines: split it, or write `// Long because: …` at its top"),
            );
        }
    }
    for (module, edges) in &graph {
        let Some(own) = layer_of(module) else {
            let file = edges.values().next().copied().unwrap_or(module);
            push(
                file,
                Rule::Layer,
                format!("module `{module}` has no layer: place it in LAYERS and ARCHITECTURE.md"),
            );
            continue;
        };
        for (target, file) in edges {
            match layer_of(target) {
                None => push(
                    file,
                    Rule::Layer,
                    format!("`{module}` imports `{target}`, which is no module with a layer"),
                ),
                Some(theirs) if theirs > own => push(
                    file,
                    Rule::Layer,
                    format!("`{module}` imports `{target}`, a higher layer"),
                ),
                Some(theirs)
                    if theirs == own
                        && graph
                            .get(target.as_str())
                            .is_some_and(|t| t.contains_key(*module)) =>
                {
                    push(
                        file,
                        Rule::Layer,
                        format!("`{module}` and `{target}` import each other"),
                    )
                }
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// Every `.rs` file under `dir`, keyed by its path relative to `root`.
fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.insert(key, std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn the_source_tree_keeps_its_architecture() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_tree(&src, &src, &mut files);
    assert!(files.len() > 50, "src/ was not read: {} files", files.len());
    let found = check(&files, ALLOWED);
    let report: Vec<String> = found
        .iter()
        .map(|v| format!("src/{}: {:?}: {}", v.file, v.rule, v.message))
        .collect();
    assert!(report.is_empty(), "\n{}\n", report.join("\n"));
    // An exception that no longer excuses anything is stale: remove it.
    for (rule, file, why) in ALLOWED {
        let without: Vec<_> = ALLOWED
            .iter()
            .filter(|a| a.1 != *file || a.0 != *rule)
            .copied()
            .collect();
        let again = check(&files, &without);
        assert!(
            again.iter().any(|v| v.rule == *rule && v.file == *file),
            "the exception ({rule:?}, {file}: {why}) excuses nothing: remove it"
        );
    }
}

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[test]
fn a_planted_violation_of_each_rule_fails() {
    let files = tree(&[
        // Layering: the state (a lower layer) reaches up to the pipeline.
        ("state/mod.rs", "use crate::pipeline::Collector;\n"),
        ("pipeline/mod.rs", "use crate::state::State;\n"),
        // Two modules importing each other: the import of the lower one reaches up.
        ("sources/mod.rs", "use crate::sinks::Sink;\n"),
        ("sinks/mod.rs", "fn f() { crate::sources::x(); }\n"),
        // A group import reaching up, over two lines.
        (
            "record/mod.rs",
            "use crate::{\n    support::{clock, secret},\n    cluster::Cluster,\n};\n",
        ),
        // A module nobody placed, and an import of a name that is no placed module.
        ("newthing.rs", "use crate::support::clock;\n"),
        ("api/q.rs", "fn f() { crate::ghost::g(); }\n"),
        (
            "docusign/x.rs",
            "fn f() { let c = rusqlite::Connection::open_in_memory(); }\n",
        ),
        (
            "sources/y.rs",
            "fn f() { reqwest::Client::builder().build(); }\n",
        ),
        (
            "api/z.rs",
            "fn f() { let t = std::time::SystemTime::now(); }\n",
        ),
        ("cluster/w.rs", "fn f() { chrono::Utc::now(); }\n"),
        ("app/long.rs", &"fn f() {}\n".repeat(MAX_LINES + 1)),
    ]);
    let found = check(&files, &[]);
    let has = |rule: Rule, file: &str, words: &str| {
        assert!(
            found
                .iter()
                .any(|v| v.rule == rule && v.file == file && v.message.contains(words)),
            "expected {rule:?} in {file} ({words}); found {found:#?}"
        )
    };
    has(Rule::Layer, "state/mod.rs", "`state` imports `pipeline`");
    has(Rule::Layer, "sinks/mod.rs", "`sinks` imports `sources`");
    has(Rule::Layer, "record/mod.rs", "`record` imports `cluster`");
    has(Rule::Layer, "newthing.rs", "has no layer");
    has(
        Rule::Layer,
        "api/q.rs",
        "`api` imports `ghost`, which is no module",
    );
    has(Rule::Database, "docusign/x.rs", "rusqlite");
    has(Rule::HttpBuilder, "sources/y.rs", "Client::builder");
    has(Rule::WallClock, "api/z.rs", "SystemTime::now");
    has(Rule::WallClock, "cluster/w.rs", "Utc::now");
    has(Rule::Long, "app/long.rs", "lines");
    // Downward imports, comments and the allowed places are no violation.
    assert!(
        !found.iter().any(|v| v.file == "pipeline/mod.rs"),
        "{found:#?}"
    );
    assert!(!found
        .iter()
        .any(|v| v.message.contains("`record` imports `support`")));
    // An exception excuses exactly its rule in its file.
    let allowed = [(Rule::Database, "docusign/x.rs", "planted")];
    let again = check(&files, &allowed);
    assert!(!again.iter().any(|v| v.rule == Rule::Database));
    assert_eq!(again.len(), found.len() - 1);
}

#[test]
fn what_is_allowed_passes() {
    let files = tree(&[
        ("support/clock.rs", "fn now() { std::time::SystemTime::now(); }\n"),
        ("support/http_client.rs", "fn c() { reqwest::Client::builder(); }\n"),
        ("state/sqlite.rs", "use rusqlite::Connection;\nuse postgres::Client;\n"),
        (
            "cluster/mod.rs",
            "// crate::api is named in a comment only\nuse crate::state::postgres::PgStore;\n\
             use crate::{pipeline::Collector, support::clock};\nfn f() { std::time::Instant::now(); }\n",
        ),
        ("app/mod.rs", "use crate::api;\nuse crate::cluster::Cluster;\n"),
        ("lib.rs", "pub mod app;\n"),
        ("main.rs", "fn main() { docusign_collector::app::main(); }\n"),
        (
            "app/long.rs",
            &format!("// Long because: a table.\n{}", "fn f() {}\n".repeat(MAX_LINES + 1)),
        ),
    ]);
    assert_eq!(check(&files, &[]), vec![]);
}
