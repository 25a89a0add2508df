//! `healthcheck`: the container's `HEALTHCHECK` (the image has no shell or curl). With `[api]`
//! it asks the local API's `/healthz`; without it, it checks that the state database opens.
//! Exit 0 healthy, 1 unhealthy (Docker reserves 2).

use crate::app::setup::Failure;
use crate::config::{self, Config};
use crate::state::State;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How long the check may take in all.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The address to ask: the API's listen address, with an unspecified IP (`0.0.0.0`, `[::]`)
/// replaced by loopback.
fn target(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

/// The command: an unreadable configuration is unhealthy too (exit 1, not 78: Docker knows
/// only healthy or not).
pub async fn run(config: Option<&Path>) -> Result<ExitCode, Failure> {
    let cfg = config::load(&config::resolve_path(config))
        .map_err(|e| Failure::runtime(format!("unhealthy: {e}")))?;
    let answer = check(&cfg)
        .await
        .map_err(|e| Failure::runtime(format!("unhealthy: {e}")))?;
    println!("{answer}");
    Ok(ExitCode::SUCCESS)
}

/// Check the running collector (or its state database); `Err` says why it is unhealthy.
pub async fn check(cfg: &Config) -> Result<String, String> {
    match &cfg.api {
        Some(api) => {
            let url = format!("http://{}/healthz", target(api.listen));
            let client = crate::support::http_client::loopback_client(TIMEOUT)?;
            let r = client.get(&url).send().await.map_err(|e| {
                format!(
                    "{url}: {}",
                    crate::support::http_client::describe_reqwest_error(&e)
                )
            })?;
            if r.status().is_success() {
                Ok(format!("healthy: {url} answered {}", r.status()))
            } else {
                Err(format!("{url} answered {}", r.status()))
            }
        }
        None if cfg.state_url.is_some() => {
            let state = State::open_configured(cfg).map_err(|e| e.to_string())?;
            state.ping().map_err(|e| e.to_string())?;
            Ok(format!("healthy: state database {} answers", state.path()))
        }
        None => {
            let path = &cfg.state_path;
            if !path.is_file() {
                return Err(format!(
                    "state database {} does not exist (yet)",
                    path.display()
                ));
            }
            let state = State::open(path).map_err(|e| e.to_string())?;
            state.streams(None).map_err(|e| e.to_string())?;
            Ok(format!("healthy: state database {} opens", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_asked_on_loopback() {
        let t = target("0.0.0.0:9464".parse().unwrap());
        assert_eq!(t, "127.0.0.1:9464".parse().unwrap());
        let t = target("[::]:9464".parse().unwrap());
        assert_eq!(t, "[::1]:9464".parse().unwrap());
        let t = target("10.0.0.1:1".parse().unwrap());
        assert_eq!(t, "10.0.0.1:1".parse().unwrap());
    }
}
