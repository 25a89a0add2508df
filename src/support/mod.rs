//! Small pieces every layer uses: the clock, retry backoff, the shutdown signal, secrets, the
//! shared HTTP client builder and crash-test fault points. Nothing here knows about Docusign,
//! sinks or state.

pub mod backoff;
pub mod clock;
pub mod credentials;
pub mod fault;
pub mod http_client;
pub mod key;
pub mod notify;
pub mod seal;
pub mod secret;
pub mod shutdown;
pub mod untrusted;
