//! Sinks: where records go. A sink's `deliver` returns only once the batch is durable there
//! (written and fsynced for files, flushed for stdout, acknowledged for HTTP).
//! SKELETON: implemented by the state/sinks work.

use crate::config::SinkConfig;
use crate::record::Batch;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod file;
pub mod stdout;

pub type DeliverFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

pub trait Sink: Send + Sync {
    /// The sink's name for logs and errors (`stdout`, `file:/var/log/…`, or its configured `name`).
    fn name(&self) -> &str;
    /// Deliver every record of `batch`, in order. `Ok` means the sink has accepted all of them.
    fn deliver(&self, batch: Arc<Batch>) -> DeliverFuture<'_>;
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink {sink}: {message}")]
    Io { sink: String, message: String },
    #[error("sink {sink}: {message}")]
    Config { sink: String, message: String },
}

/// Build the configured sinks; no configuration means one stdout sink.
pub fn build(configs: &[SinkConfig]) -> Result<Vec<Arc<dyn Sink>>, SinkError> {
    let _ = configs;
    todo!()
}
