//! One file per command, named after it (`get-events` is `get_events.rs`). Each has a `run`
//! that takes the command's arguments and answers with the exit code or a
//! [`Failure`](super::setup::Failure); what several share is in [`setup`](super::setup).
//!
//! Commands that collect (`run`, `once`) hold the collection lock and deliver to the sinks;
//! the others deliver nothing and save no checkpoint, except `reset-token`, which forgets the
//! cached token.

pub mod check_config;
pub mod consent_url;
pub mod demo;
pub mod get_events;
pub mod healthcheck;
pub mod once;
pub mod reset_token;
pub mod run;
pub mod simulate;
pub mod state;
pub mod test;
