//! The application: the commands, the daemon's wiring and reload.

pub mod cli;
pub mod cmd;
pub mod daemon;
pub mod reload;

pub use cli::main;
