//! docusign-collector: Docusign Monitor customer events and Admin audit users to SIEM sinks.
//!
//! See ARCHITECTURE.md for the code map, the data path and the invariants.

pub mod api;
pub mod auth;
pub mod cli;
pub mod client;
pub mod collector;
pub mod config;
pub mod demo;
pub mod diagnose;
pub mod fault;
pub mod managed;
pub mod metrics;
pub mod ratelimit;
pub mod record;
pub mod scheduler;
pub mod secret;
pub mod sinks;
pub mod sources;
pub mod state;
