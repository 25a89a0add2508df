//! The commands that have a file of their own.

pub mod demo;
pub mod healthcheck;
