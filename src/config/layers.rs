//! The configuration's layers, stacked by the `config` crate: built-in defaults, the main file,
//! drop-ins from `conf.d/*.toml` beside it (in name order), then the environment.
//!
//! Every value keeps its origin (the file it came from), so an error about a key names the file
//! that set it. Arrays merge by one rule, implemented by the file layer's `collect_to` (the
//! `config` crate itself would replace an array wholesale): a later layer's `[[integrations]]`
//! entry whose `name` matches an earlier entry is merged into it key by key (a later
//! `private_key` drops an earlier `private_key_file`, and back), other entries are appended;
//! `[[sinks]]` entries are appended. Other arrays (`event_types`) are replaced.

use super::env::{name_of, EnvLayer, EnvOrigins};
use super::{load, ConfigError};
use config::{Map, Source, Value, ValueKind};
use std::path::{Path, PathBuf};

type Table = Map<String, Value>;

/// One TOML file as a layer, every value tagged with the file's name.
#[derive(Debug, Clone)]
pub(super) struct FileLayer {
    tree: Table,
}

impl FileLayer {
    /// Read and parse `path`; syntax errors name the file, line and column.
    pub(super) fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = load::read_file(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse text already read; `origin` names it in errors and tags its values.
    pub(super) fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let origin = origin.to_string();
        let tree = load::parse_tree(text, &origin)?;
        Ok(FileLayer {
            tree: from_toml_table(tree, &origin),
        })
    }
}

impl Source for FileLayer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Table, config::ConfigError> {
        Ok(self.tree.clone())
    }

    fn collect_to(&self, cache: &mut Value) -> Result<(), config::ConfigError> {
        if !matches!(cache.kind, ValueKind::Table(_)) {
            cache.kind = ValueKind::Table(Table::new());
        }
        if let ValueKind::Table(dst) = &mut cache.kind {
            merge_table(dst, self.tree.clone(), true);
        }
        Ok(())
    }
}

fn merge_table(dst: &mut Table, src: Table, top: bool) {
    for (key, value) in src {
        // An inline key replaces an earlier key file, and back.
        match key.as_str() {
            "private_key" => dst.remove("private_key_file"),
            "private_key_file" => dst.remove("private_key"),
            _ => None,
        };
        let Some(existing) = dst.get_mut(&key) else {
            dst.insert(key, value);
            continue;
        };
        let origin = value.origin().map(str::to_string);
        match (&mut existing.kind, value.kind) {
            (ValueKind::Table(d), ValueKind::Table(s)) => merge_table(d, s, false),
            (ValueKind::Array(d), ValueKind::Array(s)) if top && key == "integrations" => {
                let earlier = d.len();
                for item in s {
                    let same = name_of(&item)
                        .and_then(|n| d[..earlier].iter().position(|e| name_of(e) == Some(n)));
                    let item_origin = item.origin().map(str::to_string);
                    match (same.and_then(|i| d.get_mut(i)), item.kind) {
                        (Some(e), ValueKind::Table(s)) if matches!(e.kind, ValueKind::Table(_)) => {
                            if let ValueKind::Table(d) = &mut e.kind {
                                merge_table(d, s, false);
                            }
                        }
                        (_, kind) => d.push(Value::new(item_origin.as_ref(), kind)),
                    }
                }
            }
            (ValueKind::Array(d), ValueKind::Array(s)) if top && key == "sinks" => d.extend(s),
            (_, kind) => {
                *existing = Value::new(origin.as_ref(), kind);
            }
        }
    }
}

fn from_toml(v: toml::Value, origin: &String) -> Value {
    let kind = match v {
        toml::Value::String(s) => ValueKind::String(s),
        toml::Value::Integer(i) => ValueKind::I64(i),
        toml::Value::Float(f) => ValueKind::Float(f),
        toml::Value::Boolean(b) => ValueKind::Boolean(b),
        toml::Value::Datetime(d) => ValueKind::String(d.to_string()),
        toml::Value::Array(a) => {
            ValueKind::Array(a.into_iter().map(|v| from_toml(v, origin)).collect())
        }
        toml::Value::Table(t) => ValueKind::Table(from_toml_table(t, origin)),
    };
    Value::new(Some(origin), kind)
}

fn from_toml_table(t: toml::Table, origin: &String) -> Table {
    t.into_iter()
        .map(|(k, v)| (k, from_toml(v, origin)))
        .collect()
}

/// The merged tree as TOML values, for deserialization with today's error messages.
fn to_toml(v: &Value) -> Option<toml::Value> {
    Some(match &v.kind {
        ValueKind::Nil => return None,
        ValueKind::Boolean(b) => toml::Value::Boolean(*b),
        ValueKind::I64(i) => toml::Value::Integer(*i),
        ValueKind::I128(i) => i64::try_from(*i)
            .map_or_else(|_| toml::Value::String(i.to_string()), toml::Value::Integer),
        ValueKind::U64(i) => i64::try_from(*i)
            .map_or_else(|_| toml::Value::String(i.to_string()), toml::Value::Integer),
        ValueKind::U128(i) => i64::try_from(*i)
            .map_or_else(|_| toml::Value::String(i.to_string()), toml::Value::Integer),
        ValueKind::Float(f) => toml::Value::Float(*f),
        ValueKind::String(s) => toml::Value::String(s.clone()),
        ValueKind::Array(a) => toml::Value::Array(a.iter().filter_map(to_toml).collect()),
        ValueKind::Table(t) => toml::Value::Table(to_toml_table(t)),
    })
}

fn to_toml_table(t: &Table) -> toml::Table {
    t.iter()
        .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
        .collect()
}

/// The drop-in files: `conf.d/*.toml` beside `main`, sorted by name (none without the directory).
pub(super) fn dropins(main: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let dir = main.parent().unwrap_or(Path::new("")).join("conf.d");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| ConfigError {
        file: dir.display().to_string(),
        key: "(directory)".into(),
        message: format!("cannot list the drop-in directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && p.is_file()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Every layer merged: the TOML tree to deserialize, the origins of the environment's keys, and
/// a function from an error's key path to the file that set it.
pub(super) struct Merged {
    /// The merged values, each with its origin.
    pub(super) root: Value,
    /// Which key each environment variable set.
    pub(super) env: EnvOrigins,
    /// The main file, named when no file set a key.
    pub(super) main: String,
}

impl Merged {
    /// The tree as TOML values.
    pub(super) fn toml(&self) -> toml::Table {
        match &self.root.kind {
            ValueKind::Table(t) => to_toml_table(t),
            _ => toml::Table::new(),
        }
    }

    /// `e` with the file that set its key and the environment variable, when one did.
    pub(super) fn locate(&self, mut e: ConfigError) -> ConfigError {
        if e.file == self.main {
            if let Some(file) = origin_of(&self.root, &e.key) {
                e.file = file;
            }
        }
        self.env.annotate(e)
    }
}

/// The deepest file origin along `key` ("integrations[1].customer_events.page_size").
fn origin_of(root: &Value, key: &str) -> Option<String> {
    let mut found = None;
    let mut node = root;
    for part in key.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let ValueKind::Table(t) = &node.kind else {
            break;
        };
        let Some(next) = t.get(name) else { break };
        node = next;
        found = node.origin().map(str::to_string).or(found);
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let i = index.trim_end_matches(']').parse::<usize>().ok();
            let ValueKind::Array(a) = &node.kind else {
                return found;
            };
            let Some(next) = i.and_then(|i| a.get(i)) else {
                return found;
            };
            node = next;
            found = node.origin().map(str::to_string).or(found);
        }
    }
    found
}

/// Stack the layers with the `config` crate and merge them.
pub(super) fn merge(
    main: &Path,
    files: &[PathBuf],
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Merged, ConfigError> {
    let layers = files
        .iter()
        .map(|f| FileLayer::read(f))
        .collect::<Result<Vec<_>, _>>()?;
    merge_layers(&main.display().to_string(), layers, env)
}

/// [`merge`] on layers already parsed; `main_name` names the main file in errors.
pub(super) fn merge_layers(
    main_name: &str,
    layers: Vec<FileLayer>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Merged, ConfigError> {
    let main_name = main_name.to_string();
    let internal = |e: config::ConfigError| match e {
        config::ConfigError::Foreign(inner) => match inner.downcast::<ConfigError>() {
            Ok(e) => *e,
            Err(other) => ConfigError {
                file: main_name.clone(),
                key: "(layers)".into(),
                message: other.to_string(),
            },
        },
        other => ConfigError {
            file: main_name.clone(),
            key: "(layers)".into(),
            message: other.to_string(),
        },
    };
    let mut builder = config::Config::builder()
        .set_default("log.level", "info")
        .and_then(|b| b.set_default("shutdown_timeout", "30s"))
        .map_err(internal)?;
    for layer in layers {
        builder = builder.add_source(layer);
    }
    let env = EnvLayer::new(env, &main_name);
    let built = builder.add_source(env.clone()).build().map_err(internal)?;
    Ok(Merged {
        root: built.cache,
        env: env.origins(),
        main: main_name,
    })
}
