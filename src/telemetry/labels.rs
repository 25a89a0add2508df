//! The typed label sets of the metric families: one struct per set of label names, so a family
//! cannot be updated with a missing, extra or misspelt label.

use crate::record::EventType;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use std::fmt::Write;

/// One stream: an integration's event type.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    pub integration: String,
    pub event_type: EventType,
}

impl StreamLabels {
    pub fn new(integration: &str, event_type: EventType) -> StreamLabels {
        StreamLabels {
            integration: integration.to_string(),
            event_type,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntegrationLabels {
    pub integration: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    pub integration: String,
    /// `monitor`, `admin`, `esignature`.
    pub api: &'static str,
    /// The HTTP status; 0 when no answer came.
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiRetryLabels {
    pub integration: String,
    pub api: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabels {
    pub integration: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CycleLabels {
    pub integration: String,
    pub event_type: EventType,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    pub sink: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EnrichmentLabels {
    pub integration: String,
    /// `unknown_user`, `failed`.
    pub reason: &'static str,
}

/// How a grant or a cycle ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn of(success: bool) -> Outcome {
        if success {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

impl EncodeLabelValue for EventType {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}
