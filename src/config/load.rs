//! Reading the TOML value tree, applying `DOCUSIGN_COLLECTOR__…` overrides, and deserializing
//! with the full key path in every error.

use super::{
    Config, ConfigError, FileSinkConfig, HttpSinkConfig, SinkConfig, StdoutSinkConfig, ENV_PREFIX,
};
use serde::de::DeserializeOwned;
use std::path::Path;
use toml::{Table, Value};

/// Keys whose environment value is an integer when the file does not already set them.
const INT_KEYS: &[&str] = &[
    "page_size",
    "enrich_concurrency",
    "max_bytes",
    "max_files",
    "batch_max_events",
    "batch_max_bytes",
    "per_hour",
    "burst",
    "reserve",
    "max_attempts",
];
/// Keys whose environment value is a boolean when the file does not already set them.
const BOOL_KEYS: &[&str] = &["change_keys", "enrich", "insecure", "gzip"];
/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["event_types"];

fn error(file: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        key: key.into(),
        message: message.into(),
    }
}

/// The whole file as text; a missing or unreadable file is an error naming it.
pub(super) fn read_file(path: &Path) -> Result<String, ConfigError> {
    let file = path.display().to_string();
    if path.is_dir() {
        return Err(error(
            &file,
            "(file)",
            "is a directory: pass the configuration file itself with --config PATH",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        error(
            &file,
            "(file)",
            format!(
                "cannot read the configuration file: {e}; create it (config/example.toml is an annotated template) or pass --config PATH"
            ),
        )
    })?;
    String::from_utf8(bytes)
        .map_err(|_| error(&file, "(file)", "the configuration file is not UTF-8 text"))
}

/// Parse TOML text into a table, turning TOML date-times into strings (for `start_from`).
pub(super) fn parse_tree(text: &str, file: &str) -> Result<Table, ConfigError> {
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
        let key = match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}")
            }
            None => "(syntax)".to_string(),
        };
        error(
            file,
            key,
            format!(
                "TOML syntax error: {}",
                e.message().trim().replace('\n', "; ")
            ),
        )
    })?;
    for (_, v) in table.iter_mut() {
        datetimes_to_strings(v);
    }
    Ok(table)
}

fn datetimes_to_strings(v: &mut Value) {
    match v {
        Value::Datetime(d) => *v = Value::String(d.to_string()),
        Value::Array(a) => a.iter_mut().for_each(datetimes_to_strings),
        Value::Table(t) => t.iter_mut().for_each(|(_, v)| datetimes_to_strings(v)),
        _ => {}
    }
}

/// Which keys took their value from which environment variable.
#[derive(Debug, Default)]
pub(super) struct EnvOrigins(Vec<(String, String)>);

impl EnvOrigins {
    /// Add the variable's name to an error about a key it set.
    pub(super) fn annotate(&self, mut e: ConfigError) -> ConfigError {
        let hit = self.0.iter().rev().find(|(path, _)| {
            e.key == *path
                || e.key.starts_with(&format!("{path}."))
                || e.key.starts_with(&format!("{path}["))
                || (e.message.starts_with("unknown field")
                    && (path.starts_with(&format!("{}.", e.key))
                        || path.starts_with(&format!("{}[", e.key))))
        });
        if let Some((_, var)) = hit {
            e.message = format!("{} (value from environment variable {var})", e.message);
        }
        e
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Apply every `DOCUSIGN_COLLECTOR__…` entry of `env` to `tree` (in name order).
///
/// An empty value removes the key (back to its default). Setting `private_key` removes a
/// `private_key_file` of the same integration, and the other way round, so a key can be supplied
/// from the environment without editing the file.
pub(super) fn apply_env(
    tree: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
    file: &str,
) -> Result<EnvOrigins, ConfigError> {
    let prefix = format!("{ENV_PREFIX}__");
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        // Compared as bytes: a name may have a multi-byte character where the prefix ends.
        .filter(|(k, _)| {
            k.len() > prefix.len()
                && k.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        })
        .collect();
    vars.sort();
    let mut origins = EnvOrigins::default();
    for (var, value) in vars {
        let path = apply_one(tree, &var[prefix.len()..], &var, value, file)?;
        origins.0.push((path, var));
    }
    Ok(origins)
}

fn apply_one(
    tree: &mut Table,
    rest: &str,
    var: &str,
    value: String,
    file: &str,
) -> Result<String, ConfigError> {
    let segs: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(error(
            file,
            "(environment)",
            format!("environment variable {var}: empty key segment; separate levels with exactly two underscores"),
        ));
    }
    let mut path: Vec<Seg> = Vec::new();
    let mut table = tree;
    let mut i = 0;
    loop {
        let key = segs[i].clone();
        let last = i + 1 == segs.len();
        if last {
            path.push(Seg::Key(key.clone()));
            if value.trim().is_empty() {
                table.remove(&key);
                return Ok(render(&path));
            }
            // An inline key from the environment replaces a key file from the file, and back.
            match key.as_str() {
                "private_key" => table.remove("private_key_file"),
                "private_key_file" => table.remove("private_key"),
                _ => None,
            };
            let converted = convert(table.get(&key), &key, value);
            table.insert(key, converted);
            return Ok(render(&path));
        }
        let next = &segs[i + 1];
        let wants_array = next.bytes().all(|b| b.is_ascii_digit())
            || matches!(key.as_str(), "integrations" | "sinks");
        let entry = table.entry(key.clone()).or_insert_with(|| {
            if wants_array {
                Value::Array(Vec::new())
            } else {
                Value::Table(Table::new())
            }
        });
        path.push(Seg::Key(key.clone()));
        match entry {
            Value::Table(t) => {
                table = t;
                i += 1;
            }
            Value::Array(items) => {
                let index = find_element(items, next).ok_or_else(|| {
                    let names: Vec<&str> = items
                        .iter()
                        .filter_map(|v| v.get("name").and_then(Value::as_str))
                        .collect();
                    error(
                        file,
                        render(&path),
                        format!(
                            "environment variable {var}: no element named or numbered {next:?} (there are {} entries; names: {}); use an index from 0 or a configured name",
                            items.len(),
                            if names.is_empty() { "none".to_string() } else { names.join(", ") }
                        ),
                    )
                })?;
                if index == items.len() {
                    items.push(Value::Table(Table::new()));
                }
                path.push(Seg::Index(index));
                if i + 2 == segs.len() {
                    return Err(error(
                        file,
                        render(&path),
                        format!("environment variable {var}: names a whole entry; set one of its keys instead (…__{}__KEY)", next.to_ascii_uppercase()),
                    ));
                }
                match items.get_mut(index) {
                    Some(Value::Table(t)) => table = t,
                    _ => {
                        return Err(error(
                            file,
                            render(&path),
                            format!("environment variable {var}: this entry is not a table"),
                        ))
                    }
                }
                i += 2;
            }
            _ => {
                return Err(error(
                    file,
                    render(&path),
                    format!(
                    "environment variable {var}: this key holds a single value, it has no sub-keys"
                ),
                ))
            }
        }
    }
}

/// Index of the element `seg` designates: a number (≤ len: len appends) or a `name`.
fn find_element(items: &[Value], seg: &str) -> Option<usize> {
    if seg.bytes().all(|b| b.is_ascii_digit()) {
        return seg.parse::<usize>().ok().filter(|i| *i <= items.len());
    }
    items.iter().position(|v| {
        v.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(seg))
    })
}

/// The environment string as the type the key expects; left a string when it does not parse
/// (deserialization then reports the key).
fn convert(existing: Option<&Value>, key: &str, value: String) -> Value {
    let t = value.trim();
    let want_int = matches!(existing, Some(Value::Integer(_)))
        || (existing.is_none() && INT_KEYS.contains(&key));
    let want_bool = matches!(existing, Some(Value::Boolean(_)))
        || (existing.is_none() && BOOL_KEYS.contains(&key));
    let want_list = matches!(existing, Some(Value::Array(_)))
        || (existing.is_none() && LIST_KEYS.contains(&key));
    if want_int {
        if let Ok(n) = t.parse::<i64>() {
            return Value::Integer(n);
        }
    } else if want_bool {
        match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => return Value::Boolean(true),
            "false" | "0" | "no" | "off" => return Value::Boolean(false),
            _ => {}
        }
    } else if want_list {
        return Value::Array(
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        );
    } else if let Some(Value::Float(_)) = existing {
        if let Ok(f) = t.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::String(value)
}

/// Deserialize the tree; `[[sinks]]` entries one by one so their errors carry the key path too.
pub(super) fn deserialize(mut tree: Table, file: &str) -> Result<Config, ConfigError> {
    let sinks = tree.remove("sinks");
    let mut cfg: Config = typed(Value::Table(tree), file, "")?;
    let items = match sinks {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(error(
                file,
                "sinks",
                "must be an array of tables: write each sink as a [[sinks]] table",
            ))
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let prefix = format!("sinks[{i}]");
        let Value::Table(mut t) = item else {
            return Err(error(
                file,
                prefix,
                "must be a table: write each sink as a [[sinks]] table",
            ));
        };
        let kind = match t.remove("type") {
            Some(Value::String(s)) => s,
            None => {
                return Err(error(
                    file,
                    format!("{prefix}.type"),
                    "is missing: set type = \"stdout\", \"file\" or \"http\"",
                ))
            }
            Some(_) => String::new(),
        };
        let sink = match kind.as_str() {
            "stdout" => {
                SinkConfig::Stdout(typed::<StdoutSinkConfig>(Value::Table(t), file, &prefix)?)
            }
            "file" => SinkConfig::File(typed::<FileSinkConfig>(Value::Table(t), file, &prefix)?),
            "http" => SinkConfig::Http(typed::<HttpSinkConfig>(Value::Table(t), file, &prefix)?),
            other => {
                return Err(error(
                    file,
                    format!("{prefix}.type"),
                    format!(
                        "unknown sink type {other:?}: expected \"stdout\", \"file\" or \"http\""
                    ),
                ))
            }
        };
        cfg.sinks.push(sink);
    }
    Ok(cfg)
}

fn typed<T: DeserializeOwned>(value: Value, file: &str, prefix: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let inner = e.path().to_string();
        let mut key = match (prefix.is_empty(), inner.as_str()) {
            (_, "." | "") => prefix.to_string(),
            (true, p) => p.to_string(),
            (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, p) => format!("{prefix}.{p}"),
        };
        let raw = e.into_inner().message().trim().to_string();
        let message = match raw
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            Some(field) => {
                key = if key.is_empty() {
                    field.to_string()
                } else {
                    format!("{key}.{field}")
                };
                "is required but missing".to_string()
            }
            None => raw,
        };
        if key.is_empty() {
            key = "(top level)".to_string();
        }
        error(file, key, message)
    })
}
