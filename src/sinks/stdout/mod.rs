//! Stdout sink: each record as one JSON line, the batch written under one lock and flushed.

mod config;

pub use config::StdoutSinkConfig;

use super::{DeliverFuture, Sink, SinkError};
use crate::record::Batch;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Writes JSONL to standard output (or an injected writer).
pub struct StdoutSink {
    name: String,
    /// `None`: the process's real stdout, locked per batch.
    writer: Arc<Mutex<Option<Box<dyn Write + Send>>>>,
}

impl StdoutSink {
    /// A sink on the process's standard output.
    pub fn new(name: impl Into<String>) -> StdoutSink {
        StdoutSink {
            name: name.into(),
            writer: Arc::new(Mutex::new(None)),
        }
    }

    /// A sink named `stdout` writing to `writer` instead (tests, captures).
    pub fn with_writer(writer: Box<dyn Write + Send>) -> StdoutSink {
        StdoutSink {
            name: "stdout".into(),
            writer: Arc::new(Mutex::new(Some(writer))),
        }
    }

    /// Rename the sink (its configured `name`).
    pub fn named(mut self, name: impl Into<String>) -> StdoutSink {
        self.name = name.into();
        self
    }
}

fn write_all_flush(w: &mut dyn Write, data: &[u8]) -> io::Result<()> {
    w.write_all(data)?;
    w.flush()
}

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&self, batch: Arc<Batch>) -> DeliverFuture<'_> {
        let writer = self.writer.clone();
        Box::pin(async move {
            if batch.records.is_empty() {
                return Ok(());
            }
            let result = tokio::task::spawn_blocking(move || {
                let mut data = Vec::with_capacity(batch.jsonl_len());
                for r in &batch.records {
                    data.extend_from_slice(r.json.as_bytes());
                    data.push(b'\n');
                }
                let mut guard = writer.lock().unwrap_or_else(PoisonError::into_inner);
                match guard.as_mut() {
                    Some(w) => write_all_flush(w.as_mut(), &data),
                    None => {
                        let out = io::stdout();
                        let mut lock = out.lock();
                        write_all_flush(&mut lock, &data)
                    }
                }
            })
            .await;
            match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(SinkError::Io {
                    sink: self.name.clone(),
                    message: if e.kind() == io::ErrorKind::BrokenPipe {
                        format!("cannot write to standard output: {e} (the reader went away); the batch will be retried")
                    } else {
                        format!("cannot write to standard output: {e}; the batch will be retried")
                    },
                }),
                Err(e) => Err(SinkError::Io {
                    sink: self.name.clone(),
                    message: format!("the write task failed: {e}"),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EventType, Record};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn batch(prefix: &str, n: usize) -> Arc<Batch> {
        Arc::new(Batch {
            integration: "acme".into(),
            event_type: EventType::AuditUsers,
            records: (0..n)
                .map(|i| Record {
                    json: format!(r#"{{"id":"{prefix}-{i}"}}"#),
                    time: 0,
                })
                .collect(),
        })
    }

    #[tokio::test]
    async fn writes_one_line_per_record_in_order() {
        let cap = Capture::default();
        let sink = StdoutSink::with_writer(Box::new(cap.clone()));
        assert_eq!(sink.name(), "stdout");
        sink.deliver(batch("a", 3)).await.unwrap();
        sink.deliver(batch("none", 0)).await.unwrap();
        sink.deliver(batch("b", 1)).await.unwrap();
        let out = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            out,
            "{\"id\":\"a-0\"}\n{\"id\":\"a-1\"}\n{\"id\":\"a-2\"}\n{\"id\":\"b-0\"}\n"
        );
    }

    #[tokio::test]
    async fn broken_pipe_is_an_error() {
        let sink = StdoutSink::with_writer(Box::new(Broken)).named("out");
        let err = sink.deliver(batch("a", 2)).await.unwrap_err().to_string();
        assert!(err.starts_with("sink out:"), "{err}");
        assert!(err.contains("reader went away"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_batches_do_not_interleave() {
        let cap = Capture::default();
        let sink = Arc::new(StdoutSink::with_writer(Box::new(cap.clone())));
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let sink = sink.clone();
                tokio::spawn(async move {
                    for b in 0..5 {
                        sink.deliver(batch(&format!("t{t}b{b}"), 20)).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let out = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 8 * 5 * 20);
        for chunk in lines.chunks(20) {
            let prefix = chunk[0].rsplit_once('-').unwrap().0;
            for (i, l) in chunk.iter().enumerate() {
                assert_eq!(*l, format!("{prefix}-{i}\"}}"));
            }
        }
    }
}
