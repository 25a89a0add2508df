//! Docusign's side of the wire: OAuth JWT Grant and the token cache (`auth`), private keys
//! (`auth::key`), each integration's rate limiter (`ratelimit`), the authenticated GET with
//! retries and error reporting (`client`), and answers read with a bound, their error fields cut
//! (`answer`). Sources build on this; nothing here knows about records, sinks or checkpoints.
//!
//! Layering: `Api` ← `ratelimit` ← `client` → `auth` → `answer` (the client asks auth for
//! tokens; auth never calls the client; both read answers through `answer`).

pub(crate) mod answer;
pub mod auth;
pub mod client;
pub mod ratelimit;

#[cfg(test)]
mod proptests;

use std::fmt;

/// Which Docusign API a request goes to (labels, limits, messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Monitor,
    Admin,
    ESignature,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Monitor => "monitor",
            Api::Admin => "admin",
            Api::ESignature => "esignature",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
