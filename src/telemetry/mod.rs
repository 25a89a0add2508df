//! What the process tells operators: metrics (Prometheus text on `/metrics`) and logs (tracing
//! to stderr, text or JSON).

pub mod logging;
pub mod metrics;
