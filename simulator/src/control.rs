//! `/_sim/…` control endpoints: the [`super::SimHandle`] knobs over HTTP, for the standalone
//! `simulate` command. All take query parameters and answer JSON:
//!
//! - `GET /_sim/stats` — the [`super::SimStats`];
//! - `GET /_sim/events` — `{"count"}`; `POST /_sim/events?n=N` — append N events;
//! - `POST /_sim/users/modify?n=N`, `POST /_sim/users/add?n=N` — `{"ids":[…]}`; `GET /_sim/users` — `{"count"}`;
//! - `POST /_sim/revoke` — revoke every token;
//! - `POST /_sim/rate_limit?limit=&window_secs=&burst_limit=&burst_window_secs=`; `DELETE /_sim/rate_limit`;
//! - `POST /_sim/faults?error_rate=&error_statuses=500,503&truncate_rate=&delay_ms=`;
//! - `POST /_sim/fail_next?n=&status=`;
//! - `POST /_sim/consent?integration_key=&scopes=signature%20impersonation`.

use super::core::{Ctx, Resp, Sim};
use super::{Faults, RateLimit};
use axum::http::Method;
use std::time::Duration;

fn bad(message: &str) -> Resp {
    Resp::error(400, "INVALID_REQUEST_PARAMETER", message)
}

fn num<T: std::str::FromStr>(ctx: &Ctx, name: &str, default: Option<T>) -> Result<T, Resp> {
    match ctx.param(name) {
        Some(v) => v
            .parse()
            .map_err(|_| bad(&format!("'{name}' is not a valid number: '{v}'"))),
        None => default.ok_or_else(|| bad(&format!("'{name}' is required"))),
    }
}

fn ok() -> Resp {
    Resp::json(200, &serde_json::json!({"ok": true}))
}

/// Handle one control request.
pub(crate) fn handle(sim: &Sim, ctx: &Ctx) -> Resp {
    match route(sim, ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn route(sim: &Sim, ctx: &Ctx) -> Result<Resp, Resp> {
    let path = ctx.path.trim_end_matches('/');
    let m = &ctx.method;
    Ok(match (m, path) {
        (&Method::GET, "/_sim/stats") => {
            Resp::json(200, &serde_json::to_value(sim.stats()).unwrap_or_default())
        }
        (&Method::GET, "/_sim/events") => {
            Resp::json(200, &serde_json::json!({"count": sim.event_count()}))
        }
        (&Method::POST, "/_sim/events") => {
            sim.append_events(num(ctx, "n", Some(1usize))?);
            Resp::json(200, &serde_json::json!({"count": sim.event_count()}))
        }
        (&Method::GET, "/_sim/users") => {
            Resp::json(200, &serde_json::json!({"count": sim.user_count()}))
        }
        (&Method::POST, "/_sim/users/modify") => {
            let ids = sim.modify_users(num(ctx, "n", Some(1usize))?);
            Resp::json(200, &serde_json::json!({"ids": ids}))
        }
        (&Method::POST, "/_sim/users/add") => {
            let ids = sim.add_users(num(ctx, "n", Some(1usize))?);
            Resp::json(200, &serde_json::json!({"ids": ids}))
        }
        (&Method::POST, "/_sim/revoke") => {
            sim.revoke_tokens();
            ok()
        }
        (&Method::DELETE, "/_sim/rate_limit") => {
            sim.set_rate_limit(None);
            ok()
        }
        (&Method::POST, "/_sim/rate_limit") => {
            sim.set_rate_limit(Some(RateLimit {
                limit: num(ctx, "limit", Some(3000))?,
                window: Duration::from_secs(num(ctx, "window_secs", Some(3600))?),
                burst_limit: num(ctx, "burst_limit", Some(500))?,
                burst_window: Duration::from_secs(num(ctx, "burst_window_secs", Some(30))?),
            }));
            ok()
        }
        (&Method::POST, "/_sim/faults") => {
            let mut statuses = Vec::new();
            for s in ctx.param("error_statuses").unwrap_or("").split(',') {
                if !s.trim().is_empty() {
                    statuses.push(
                        s.trim()
                            .parse::<u16>()
                            .map_err(|_| bad(&format!("bad status in error_statuses: '{s}'")))?,
                    );
                }
            }
            let rate = |name: &str| -> Result<f64, Resp> {
                let v: f64 = num(ctx, name, Some(0.0))?;
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err(bad(&format!("'{name}' must be between 0 and 1")))
                }
            };
            sim.set_faults(Faults {
                error_rate: rate("error_rate")?,
                error_statuses: statuses,
                truncate_rate: rate("truncate_rate")?,
                delay: Duration::from_millis(num(ctx, "delay_ms", Some(0))?),
            });
            ok()
        }
        (&Method::POST, "/_sim/fail_next") => {
            let status: u16 = num(ctx, "status", Some(500))?;
            if !(100..=599).contains(&status) {
                return Err(bad("'status' must be an HTTP status"));
            }
            sim.fail_next(num(ctx, "n", Some(1usize))?, status);
            ok()
        }
        (&Method::POST, "/_sim/consent") => {
            let ik = ctx
                .param("integration_key")
                .ok_or_else(|| bad("'integration_key' is required"))?;
            let scopes = ctx
                .param("scopes")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
            sim.set_consent(ik, scopes);
            ok()
        }
        _ => Resp::error(404, "RESOURCE_NOT_FOUND", "No such control endpoint."),
    })
}
