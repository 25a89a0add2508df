//! Sinks: where records go. A sink's `deliver` returns only once the batch is durable there
//! (written and fsynced for files, flushed for stdout, acknowledged for HTTP).

use crate::config::SinkConfig;
use crate::record::Batch;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod file;
pub mod http;
pub mod stdout;

pub use file::FileSink;
pub use stdout::StdoutSink;

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

/// Build the configured sinks; no configuration means one stdout sink.
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

pub fn build(configs: &[SinkConfig]) -> Result<Sinks, SinkError> {
    if configs.is_empty() {
        return Ok(Sinks::one(Arc::new(StdoutSink::new("stdout"))));
    }
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::with_capacity(configs.len());
    for c in configs {
        let name = c.effective_name();
        match c {
            SinkConfig::Stdout(_) => sinks.push(Arc::new(StdoutSink::new(name))),
            SinkConfig::File(f) => sinks.push(Arc::new(FileSink::open(
                name,
                &f.path,
                f.max_bytes,
                f.max_files,
            )?)),
            SinkConfig::Http(h) => sinks.push(Arc::new(http::HttpSink::new(name, h)?)),
        }
    }
    Sinks::new(sinks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileSinkConfig, StdoutSinkConfig};

    #[test]
    fn a_renamed_sink_answers_to_its_new_name_only() {
        let s: Arc<dyn Sink> = Arc::new(StdoutSink::new("console"));
        assert!(Arc::ptr_eq(&renamed(s.clone(), "console".into()), &s));
        let r = renamed(s, "screen".into());
        assert_eq!(r.name(), "screen");
    }

    #[test]
    fn empty_config_means_stdout() {
        let sinks = build(&[]).unwrap();
        assert_eq!(sinks.len(), 1);
        assert_eq!(sinks.as_slice()[0].name(), "stdout");
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
