//! `type = "file"`: its table and its component.

use crate::sinks::{Component, FileSink, Sink, SinkError, WrittenFile};
use crate::support::checks::{fail, Checked};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
    pub path: PathBuf,
    /// Rotate once the file grows past this size.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`events.jsonl.1` … `.N`).
    #[serde(default = "default_max_files")]
    pub max_files: u32,
}

fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}
fn default_max_files() -> u32 {
    10
}

impl Component for FileSinkConfig {
    fn given_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn derived_name(&self) -> String {
        format!("file:{}", self.path.display())
    }

    fn validate(&self) -> Checked {
        if self.path.as_os_str().is_empty() {
            fail("path", "must not be empty: the JSONL file to write, e.g. \"/var/log/docusign-collector/events.jsonl\"")?;
        }
        if self.max_bytes < 1024 {
            fail(
                "max_bytes",
                format!("{} is too small: use at least 1024 (bytes)", self.max_bytes),
            )?;
        }
        if self.max_files < 1 {
            fail("max_files", "must be at least 1")?;
        }
        Ok(())
    }

    fn path_keys(&self) -> Vec<(&'static str, &Path)> {
        vec![("path", self.path.as_path())]
    }

    fn written_files(&self) -> Vec<WrittenFile<'_>> {
        vec![WrittenFile {
            key: "path",
            path: &self.path,
            rotated: self.max_files,
            shared: false,
        }]
    }

    fn build(&self) -> Result<Arc<dyn Sink>, SinkError> {
        Ok(Arc::new(FileSink::open(
            self.name(),
            &self.path,
            self.max_bytes,
            self.max_files,
        )?))
    }
}
