//! Sources: the Docusign APIs events come from.

pub mod admin_users;
pub mod monitor;
