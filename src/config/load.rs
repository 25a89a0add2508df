//! Reading a TOML file into a value tree, and deserializing the merged tree with the full key
//! path in every error.

use super::{Config, ConfigError, SinkConfig};
use serde::de::DeserializeOwned;
use std::path::Path;
use toml::{Table, Value};

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
                    format!("is missing: set type = {}", SinkConfig::kinds_list()),
                ))
            }
            Some(_) => String::new(),
        };
        let Some(sink) = SinkConfig::parse(&kind, Value::Table(t), file, &prefix) else {
            return Err(error(
                file,
                format!("{prefix}.type"),
                format!(
                    "unknown sink type {kind:?}: expected {}",
                    SinkConfig::kinds_list()
                ),
            ));
        };
        let sink = sink?;
        cfg.sinks.push(sink);
    }
    Ok(cfg)
}

pub(super) fn typed<T: DeserializeOwned>(
    value: Value,
    file: &str,
    prefix: &str,
) -> Result<T, ConfigError> {
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
