//! `type = "stdout"`: its table and its component.

use crate::sinks::{Component, Sink, SinkError, StdoutSink};
use crate::support::checks::Checked;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    #[serde(default)]
    pub name: Option<String>,
}

impl Component for StdoutSinkConfig {
    fn given_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn derived_name(&self) -> String {
        "stdout".into()
    }

    fn validate(&self) -> Checked {
        Ok(())
    }

    fn build(&self) -> Result<Arc<dyn Sink>, SinkError> {
        Ok(Arc::new(StdoutSink::new(self.name())))
    }
}
