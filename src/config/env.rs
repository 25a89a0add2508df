//! The `DOCUSIGN_COLLECTOR__…` environment layer: a `config::Source` that applies each variable to
//! the value tree the earlier layers built, addressing `[[integrations]]`/`[[sinks]]` entries by
//! index or by `name` (which the `config` crate's own `Environment` source cannot do).

use super::{ConfigError, ENV_PREFIX};
use config::{Map, Source, Value, ValueKind};
use std::sync::{Arc, Mutex};

/// Keys whose environment value is an integer when no earlier layer sets them.
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
/// Keys whose environment value is a boolean when no earlier layer sets them.
const BOOL_KEYS: &[&str] = &["change_keys", "enrich", "insecure", "gzip"];
/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["event_types"];

type Table = Map<String, Value>;

fn error(file: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        key: key.into(),
        message: message.into(),
    }
}

/// Which keys took their value from which environment variable.
#[derive(Debug, Default, Clone)]
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

/// The environment layer: the `DOCUSIGN_COLLECTOR__…` variables, applied in name order.
///
/// An empty value removes the key (back to its default). Setting `private_key` removes a
/// `private_key_file` of the same entry, and the other way round. Errors travel through the
/// `config` crate as `Foreign` and are unwrapped by the loader; the keys each variable set are
/// recorded in [`EnvLayer::origins`].
#[derive(Debug, Clone)]
pub(super) struct EnvLayer {
    vars: Vec<(String, String)>,
    file: String,
    origins: Arc<Mutex<EnvOrigins>>,
}

impl EnvLayer {
    /// The layer for `env` (other variables are ignored); `file` names the main file in errors.
    pub(super) fn new(env: impl IntoIterator<Item = (String, String)>, file: &str) -> Self {
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
        EnvLayer {
            vars,
            file: file.to_string(),
            origins: Arc::default(),
        }
    }

    /// The keys set by each variable during the last `collect_to`.
    pub(super) fn origins(&self) -> EnvOrigins {
        self.origins.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn apply(&self, tree: &mut Table) -> Result<EnvOrigins, ConfigError> {
        let prefix_len = ENV_PREFIX.len() + 2;
        let mut origins = EnvOrigins::default();
        for (var, value) in &self.vars {
            let path = apply_one(tree, &var[prefix_len..], var, value.clone(), &self.file)?;
            origins.0.push((path, var.clone()));
        }
        Ok(origins)
    }
}

impl Source for EnvLayer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Table, config::ConfigError> {
        let mut tree = Table::new();
        self.apply(&mut tree)
            .map_err(|e| config::ConfigError::Foreign(Box::new(e)))?;
        Ok(tree)
    }

    fn collect_to(&self, cache: &mut Value) -> Result<(), config::ConfigError> {
        if !matches!(cache.kind, ValueKind::Table(_)) {
            cache.kind = ValueKind::Table(Table::new());
        }
        let ValueKind::Table(tree) = &mut cache.kind else {
            return Ok(());
        };
        let origins = self
            .apply(tree)
            .map_err(|e| config::ConfigError::Foreign(Box::new(e)))?;
        if let Ok(mut o) = self.origins.lock() {
            *o = origins;
        }
        Ok(())
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

fn new_value(kind: ValueKind) -> Value {
    Value::new(None, kind)
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
            let converted = convert(table.get(&key).map(|v| &v.kind), &key, value);
            table.insert(key, new_value(converted));
            return Ok(render(&path));
        }
        let next = &segs[i + 1];
        let wants_array = next.bytes().all(|b| b.is_ascii_digit())
            || matches!(key.as_str(), "integrations" | "sinks");
        let entry = table.entry(key.clone()).or_insert_with(|| {
            new_value(if wants_array {
                ValueKind::Array(Vec::new())
            } else {
                ValueKind::Table(Table::new())
            })
        });
        path.push(Seg::Key(key.clone()));
        match &mut entry.kind {
            ValueKind::Table(t) => {
                table = t;
                i += 1;
            }
            ValueKind::Array(items) => {
                let index = find_element(items, next).ok_or_else(|| {
                    let names: Vec<&str> = items.iter().filter_map(name_of).collect();
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
                    items.push(new_value(ValueKind::Table(Table::new())));
                }
                path.push(Seg::Index(index));
                if i + 2 == segs.len() {
                    return Err(error(
                        file,
                        render(&path),
                        format!("environment variable {var}: names a whole entry; set one of its keys instead (…__{}__KEY)", next.to_ascii_uppercase()),
                    ));
                }
                match items.get_mut(index).map(|v| &mut v.kind) {
                    Some(ValueKind::Table(t)) => table = t,
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

/// The `name` of an array entry, when it is a table with a string `name`.
pub(super) fn name_of(v: &Value) -> Option<&str> {
    match &v.kind {
        ValueKind::Table(t) => match t.get("name").map(|n| &n.kind) {
            Some(ValueKind::String(s)) => Some(s.as_str()),
            _ => None,
        },
        _ => None,
    }
}

/// Index of the element `seg` designates: a number (≤ len: len appends) or a `name`.
fn find_element(items: &[Value], seg: &str) -> Option<usize> {
    if seg.bytes().all(|b| b.is_ascii_digit()) {
        return seg.parse::<usize>().ok().filter(|i| *i <= items.len());
    }
    items
        .iter()
        .position(|v| name_of(v).is_some_and(|n| n.eq_ignore_ascii_case(seg)))
}

/// The environment string as the type the key expects; left a string when it does not parse
/// (deserialization then reports the key).
fn convert(existing: Option<&ValueKind>, key: &str, value: String) -> ValueKind {
    let t = value.trim();
    let is_int = matches!(
        existing,
        Some(ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_))
    );
    let want_int = is_int || (existing.is_none() && INT_KEYS.contains(&key));
    let want_bool = matches!(existing, Some(ValueKind::Boolean(_)))
        || (existing.is_none() && BOOL_KEYS.contains(&key));
    let want_list = matches!(existing, Some(ValueKind::Array(_)))
        || (existing.is_none() && LIST_KEYS.contains(&key));
    if want_int {
        if let Ok(n) = t.parse::<i64>() {
            return ValueKind::I64(n);
        }
    } else if want_bool {
        match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => return ValueKind::Boolean(true),
            "false" | "0" | "no" | "off" => return ValueKind::Boolean(false),
            _ => {}
        }
    } else if want_list {
        return ValueKind::Array(
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| new_value(ValueKind::String(s.to_string())))
                .collect(),
        );
    } else if let Some(ValueKind::Float(_)) = existing {
        if let Ok(f) = t.parse::<f64>() {
            return ValueKind::Float(f);
        }
    }
    ValueKind::String(value)
}
