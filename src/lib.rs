//! docusign-collector: Docusign Monitor customer events and Admin audit users to SIEM sinks.

pub mod auth;
pub mod cli;
pub mod config;
pub mod fault;
pub mod record;
pub mod secret;
pub mod sim;
pub mod sinks;
pub mod sources;
pub mod state;
