//! What the process tells operators: events (`events`: each logs and counts), metrics
//! (`metrics`: the families, OpenMetrics text on `/metrics`; `labels`: their typed label sets) and logs (`logging`: tracing to
//! stderr, text or JSON).

pub mod events;
pub mod labels;
pub mod logging;
pub mod metrics;

pub use events::stream_delivered;
pub use metrics::{render, CONTENT_TYPE, FAMILIES};
