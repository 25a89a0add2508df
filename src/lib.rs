//! docusign-collector: Docusign Monitor customer events and Admin audit users to SIEM sinks.
//!
//! See ARCHITECTURE.md for the code map, the data path and the invariants. Layers, from the
//! bottom: `support` → `record`, `config` → `telemetry`, `state` → `docusign` → `sources`,
//! `sinks` → `integrations` → `pipeline` → `cluster` → `api` → `app` (the commands); a module
//! imports only its own layer and those below, which `tests/architecture.rs` checks.

pub mod api;
pub mod app;
pub mod cluster;
pub mod config;
pub mod docusign;
pub mod integrations;
pub mod pipeline;
pub mod record;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod support;
pub mod telemetry;
