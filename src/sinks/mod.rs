//! Sinks: where records go. A sink's `deliver` returns only once the batch is durable there
//! (written and fsynced for files, flushed for stdout, acknowledged for HTTP).
//!
//! Each kind is a component in its own folder, Vector's way: `<kind>/config.rs` holds its
//! `[[sinks]]` table's type and that type's [`Component`] (its rules, its name, its build), the
//! rest of the folder the [`Sink`] it builds. `config::SinkConfig` is the tagged enum of the
//! kinds, and `config` the only caller of a kind's rules. This module sits below `config`: it
//! uses `support`, `record` and `telemetry` only.
//!
//! To add a sink: a folder `<kind>/` (its config type implementing [`Component`], its
//! [`Sink`]), `pub mod <kind>;` here, and its line in `sink_kinds!` (`config/sinks.rs`), which
//! declares the `config::SinkConfig` enum.

use crate::record::Batch;
use crate::support::checks::Checked;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

pub mod file;
pub mod http;
pub mod stdout;

pub use file::FileSink;
pub use stdout::StdoutSink;

/// One kind of sink as configured: what `config` needs of it, so that no rule of a kind lives
/// outside its folder. Keys in a [`Checked`] failure are relative to the sink's table
/// (`token_file`, `headers.X-Source`); `config` puts them under `sinks[i]`.
pub trait Component {
    /// Its `name` key, when given.
    fn given_name(&self) -> Option<&str>;
    /// Its name when no `name` is given, derived from what it writes to (`stdout`,
    /// `file:<path>`, `http:<url>`): never a credential, since the name is logged.
    fn derived_name(&self) -> String;
    /// The sink's name in logs, metrics labels, errors and its acceptance records: its `name`,
    /// else the derived one. The one place a sink's name is computed: [`Component::build`] and
    /// validation both call it, and validation refuses two sinks with one name (they would
    /// share acceptance records).
    fn name(&self) -> String {
        match self.given_name() {
            Some(n) => n.to_string(),
            None => self.derived_name(),
        }
    }
    /// Its own rules (the rules of every sink, its name's and two sinks' identity, are
    /// `config`'s). Files are read here (token, CA), never written.
    fn validate(&self) -> Checked;
    /// Every key that names a file, with the path, in the order of the table: a value that is
    /// really the file's content (a pasted PEM) is refused without being echoed.
    fn path_keys(&self) -> Vec<(&'static str, &Path)> {
        Vec::new()
    }
    /// The keys naming a file that holds a secret (their modes are checked at start-up).
    fn secret_files(&self) -> Vec<(&'static str, &Path)> {
        Vec::new()
    }
    /// The files it writes, for the rule that no two sinks write one file.
    fn written_files(&self) -> Vec<WrittenFile<'_>> {
        Vec::new()
    }
    /// The sink, under [`Component::name`]. Opens what it writes to (a file sink's file), so an
    /// unusable destination is a start-up error.
    fn build(&self) -> Result<Arc<dyn Sink>, SinkError>;
}

/// A file a sink writes.
pub struct WrittenFile<'a> {
    /// The key that names it (`path`, `dead_letter_path`).
    pub key: &'static str,
    pub path: &'a Path,
    /// How many rotated files (`path.1` … `path.N`) are its too.
    pub rotated: u32,
    /// Whether another sink may append to it as well: batches appended whole (dead-letter
    /// files) do not cut each other's lines, but a sink that rotates its file owns it.
    pub shared: bool,
}

/// The future returned by [`Sink::deliver`].
pub type DeliverFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// A destination for records, shared by all integrations.
pub trait Sink: Send + Sync {
    /// The sink's name for logs and errors (`stdout`, `file:/var/log/…`, or its configured `name`).
    fn name(&self) -> &str;
    /// Deliver every record of `batch`, in order. `Ok` means the sink has accepted all of them.
    fn deliver(&self, batch: Arc<Batch>) -> DeliverFuture<'_>;
}

/// A sink could not be built or could not accept a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink {sink}: {message}")]
    Io { sink: String, message: String },
    #[error("sink {sink}: {message}")]
    Config { sink: String, message: String },
}

/// The sinks a pipeline delivers to: never empty, so a checkpoint can never be saved with
/// nothing delivered. Cheap to clone.
#[derive(Clone)]
pub struct Sinks(Arc<[Arc<dyn Sink>]>);

impl Sinks {
    /// At least one sink, each with its own name: a sink's name keys its acceptance records
    /// (`pipeline::delivery`), so two sinks with one name would spare each other pages.
    /// Validation refuses such a configuration first; this is the last guard.
    pub fn new(sinks: Vec<Arc<dyn Sink>>) -> Result<Sinks, SinkError> {
        if sinks.is_empty() {
            return Err(SinkError::Config {
                sink: "sinks".into(),
                message: "at least one sink is needed".into(),
            });
        }
        for (i, s) in sinks.iter().enumerate() {
            if sinks[..i].iter().any(|o| o.name() == s.name()) {
                return Err(SinkError::Config {
                    sink: s.name().to_string(),
                    message: "another sink has this name: give each sink its own name".into(),
                });
            }
        }
        Ok(Sinks(sinks.into()))
    }

    /// One sink.
    pub fn one(sink: Arc<dyn Sink>) -> Sinks {
        Sinks(Arc::from([sink]))
    }

    pub fn as_slice(&self) -> &[Arc<dyn Sink>] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a `Sinks` holds at least one sink.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The sinks in force, replaced as a whole on reload. Each page takes a snapshot
/// ([`SwappableSinks::current`]) before its delivery, so a page in delivery finishes on the sinks
/// it started with and the next page goes to the new ones.
pub struct SwappableSinks(std::sync::RwLock<Sinks>);

impl SwappableSinks {
    /// Start with `sinks`.
    pub fn new(sinks: Sinks) -> SwappableSinks {
        SwappableSinks(std::sync::RwLock::new(sinks))
    }

    /// The sinks in force now.
    pub fn current(&self) -> Sinks {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Deliver the next pages to `sinks`.
    pub fn replace(&self, sinks: Sinks) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = sinks;
    }
}

/// `sink` under another name: a reload that renames a file sink keeps its open file (a second
/// handle on one path could cut a line) but reports, and keeps acceptances, under the new name.
pub fn renamed(sink: Arc<dyn Sink>, name: String) -> Arc<dyn Sink> {
    if sink.name() == name {
        return sink;
    }
    Arc::new(Renamed { name, inner: sink })
}

struct Renamed {
    name: String,
    inner: Arc<dyn Sink>,
}

impl Sink for Renamed {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&self, batch: Arc<Batch>) -> DeliverFuture<'_> {
        self.inner.deliver(batch)
    }
}

/// Build the configured sinks (`config::SinkConfig`s); no configuration means one stdout sink.
pub fn build<C: Component>(configs: &[C]) -> Result<Sinks, SinkError> {
    if configs.is_empty() {
        return Ok(Sinks::one(Arc::new(StdoutSink::new("stdout"))));
    }
    let sinks = configs
        .iter()
        .map(Component::build)
        .collect::<Result<Vec<_>, _>>()?;
    Sinks::new(sinks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_sink_answers_to_its_new_name_only() {
        let s: Arc<dyn Sink> = Arc::new(StdoutSink::new("console"));
        assert!(Arc::ptr_eq(&renamed(s.clone(), "console".into()), &s));
        let r = renamed(s, "screen".into());
        assert_eq!(r.name(), "screen");
    }

    #[test]
    fn empty_config_means_stdout() {
        let sinks = build::<stdout::StdoutSinkConfig>(&[]).unwrap();
        assert_eq!(sinks.len(), 1);
        assert_eq!(sinks.as_slice()[0].name(), "stdout");
    }
}
