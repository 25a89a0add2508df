//! File sink: JSONL appended to a file, fsynced before a batch is acknowledged, rotated by
//! size (`events.jsonl.1` … `.N`), with a torn last line repaired on open.

mod config;

pub use config::FileSinkConfig;

use super::{DeliverFuture, Sink, SinkError};
use crate::record::Batch;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(test)]
mod tests;

/// Appends JSONL to a file. Shared by all integrations; one batch is written under one lock.
pub struct FileSink {
    name: String,
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    name: String,
    path: PathBuf,
    max_bytes: u64,
    max_files: u32,
    /// The open file (append mode); `None` after a failed rotation, reopened on next write.
    file: Option<File>,
    /// Size of the file as acknowledged (every byte up to here is complete lines).
    size: u64,
    /// A failed write may have left bytes past `size` that could not be truncated.
    dirty: bool,
}

impl FileSink {
    /// Open (creating parent directories and the file) and repair a torn last line.
    pub fn open(
        name: impl Into<String>,
        path: &Path,
        max_bytes: u64,
        max_files: u32,
    ) -> Result<FileSink, SinkError> {
        let name = name.into();
        let (file, size) = open_file(path).map_err(|e| SinkError::Config {
            sink: name.clone(),
            message: format!("cannot open {}: {e}", path.display()),
        })?;
        Ok(FileSink {
            inner: Arc::new(Mutex::new(Inner {
                name: name.clone(),
                path: path.to_path_buf(),
                max_bytes,
                max_files,
                file: Some(file),
                size,
                dirty: false,
            })),
            name,
        })
    }

    /// The file being written.
    pub fn path(&self) -> PathBuf {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .path
            .clone()
    }
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&self, batch: Arc<Batch>) -> DeliverFuture<'_> {
        let inner = self.inner.clone();
        Box::pin(async move {
            if batch.records.is_empty() {
                return Ok(());
            }
            tokio::task::spawn_blocking(move || {
                let mut g = inner.lock().unwrap_or_else(PoisonError::into_inner);
                g.write_batch(&batch)
            })
            .await
            .map_err(|e| SinkError::Io {
                sink: self.name.clone(),
                message: format!("the write task failed: {e}"),
            })?
        })
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent_dir(path))?.sync_all()
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// Open `path` for appending (creating it and its directory) and cut a torn last line.
/// Returns the file and its size after repair.
fn open_file(path: &Path) -> io::Result<(File, u64)> {
    fs::create_dir_all(parent_dir(path))?;
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)?;
    if !existed {
        // Make the new directory entry durable; failure here is not fatal for writing.
        let _ = sync_dir(path);
    }
    let meta = file.metadata()?;
    if !meta.is_file() {
        // A device or FIFO: nothing to repair, nothing to measure.
        return Ok((file, 0));
    }
    let len = meta.len();
    let keep = complete_len(&mut file, len)?;
    if keep < len {
        file.set_len(keep)?;
        file.sync_data()?;
        tracing::warn!(
            path = %path.display(),
            cut_bytes = len - keep,
            "file sink: removed a torn last line left by an interrupted write (it was never acknowledged and will be delivered again)"
        );
    }
    Ok((file, keep))
}

/// The length of `file` up to and including its last `\n` (0 when it has none).
fn complete_len(file: &mut File, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Every record of `batch` and its newline, written straight from the records (`writev`, as
/// many slices a call as the system takes): no copy of the batch into one buffer first.
fn write_records(file: &mut File, batch: &Batch) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = batch
        .records
        .iter()
        .flat_map(|r| [IoSlice::new(r.json.as_bytes()), IoSlice::new(b"\n")])
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Inner {
    fn io_err(&self, what: &str, e: &io::Error) -> SinkError {
        SinkError::Io {
            sink: self.name.clone(),
            message: format!("{what} {}: {e}", self.path.display()),
        }
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<(), SinkError> {
        let len = batch.jsonl_len();
        if self.dirty {
            self.cut_back()
                .map_err(|e| self.io_err("cannot remove a partial write from", &e))?;
        }
        if self.file.is_none() {
            let (file, size) = open_file(&self.path).map_err(|e| self.io_err("cannot open", &e))?;
            self.file = Some(file);
            self.size = size;
        }
        // The file's real size (an outside `copytruncate` may have emptied it): the baseline
        // a failed write is cut back to, and what rotation is measured against.
        if let Some(meta) = self.file.as_ref().and_then(|f| f.metadata().ok()) {
            if meta.is_file() {
                self.size = meta.len();
            }
        }
        if self.size > 0 && self.size.saturating_add(len as u64) > self.max_bytes {
            self.rotate()
                .map_err(|e| self.io_err("cannot rotate", &e))?;
        }
        let Some(file) = self.file.as_mut() else {
            return Err(self.io_err("cannot open", &io::Error::other("no file")));
        };
        if crate::support::fault::hit("mid_file_write") {
            let data: Vec<u8> = batch
                .records
                .iter()
                .flat_map(|r| r.json.bytes().chain([b'\n']))
                .collect();
            let _ = file.write_all(&data[..data.len() / 2]);
            let _ = file.flush();
            crate::support::fault::crash("mid_file_write");
        }
        let result = write_records(file, batch).and_then(|()| file.sync_data());
        match result {
            Ok(()) => {
                self.size += len as u64;
                Ok(())
            }
            Err(e) => {
                self.dirty = true;
                if let Err(cut) = self.cut_back() {
                    tracing::warn!(
                        sink = %self.name,
                        path = %self.path.display(),
                        error = %cut,
                        "file sink: could not remove a partial write; retrying before the next batch"
                    );
                }
                Err(SinkError::Io {
                    sink: self.name.clone(),
                    message: format!(
                        "cannot write {} records ({} bytes) to {}: {e}; nothing of the batch was kept and it will be retried",
                        batch.records.len(),
                        len,
                        self.path.display()
                    ),
                })
            }
        }
    }

    /// Truncate the file back to the acknowledged size.
    fn cut_back(&mut self) -> io::Result<()> {
        if let Some(file) = self.file.as_mut() {
            if file.metadata()?.is_file() {
                file.set_len(self.size)?;
                file.sync_data()?;
            }
        }
        self.dirty = false;
        Ok(())
    }

    /// `path.(N-1)`→`.N` … `path`→`.1`, keeping at most `max_files` rotated files.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        // Rotated files beyond max_files (e.g. the limit was lowered) are removed.
        let mut n = self.max_files.saturating_add(1);
        while rotated(&self.path, n).exists() {
            fs::remove_file(rotated(&self.path, n))?;
            n += 1;
        }
        if self.max_files == 0 {
            fs::remove_file(&self.path)?;
        } else {
            for i in (1..self.max_files).rev() {
                let from = rotated(&self.path, i);
                if from.exists() {
                    fs::rename(&from, rotated(&self.path, i + 1))?;
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        sync_dir(&self.path)?;
        let (file, size) = open_file(&self.path)?;
        self.file = Some(file);
        self.size = size;
        tracing::info!(sink = %self.name, path = %self.path.display(), "file sink rotated");
        Ok(())
    }
}
