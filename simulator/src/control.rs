//! `/_sim/…` control endpoints: the [`super::SimHandle`] knobs over HTTP, for the standalone
//! `simulate` command. All take query parameters and answer JSON:
//!
//! - `GET /_sim/stats` — the [`super::SimStats`];
//! - `GET /_sim/events` — `{"count"}`; `POST /_sim/events?n=N` — append N events;
//! - `POST /_sim/users/modify?n=N`, `POST /_sim/users/add?n=N` — `{"ids":[…]}`; `GET /_sim/users` — `{"count"}`;
//! - `POST /_sim/revoke` — revoke every token;
//! - `POST /_sim/rate_limit?limit=&window_secs=&burst_limit=&burst_window_secs=`; `DELETE /_sim/rate_limit`;
//! - `POST /_sim/faults?error_rate=&error_statuses=500,503&truncate_rate=&delay_ms=`;
//! - `POST /_sim/fail_next?n=&status=[&api=monitor|admin|esign]`;
//! - `POST /_sim/headers_next?api=monitor|admin|esign&n=[&status=429]&header=Retry-After:120[&header=…]` —
//!   the next N answers of the API carry these rate-limit headers (and, with `status`, are that error);
//! - `POST /_sim/consent?integration_key=&scopes=signature%20impersonation`;
//! - `POST /_sim/garble_next?api=monitor|admin|esign&n=&body=` — the next N answers of the API are a 200
//!   with `body` (default `<html><body>Service Unavailable</body></html>`);
//! - `GET /_sim/esign/unknown` — `{"ids"}`; `POST /_sim/esign/unknown?n=N` (the last N users) or
//!   `?ids=a,b` — eSignature forgets them, `{"ids"}`; `DELETE /_sim/esign/unknown` — knows all again;
//! - `POST /_sim/esign/unknown_status?status=404`;
//! - `POST /_sim/esign/dates?offset_secs=-28800&format=us|iso|iso-nozone` (each optional);
//! - `POST /_sim/esign/list/omit?n=N`, `POST /_sim/esign/list/undated?n=N` — `{"ids"}`;
//! - `POST /_sim/admin/next?mode=absolute|relative|absent|<base URL>`;
//! - `POST /_sim/admin/reshuffle`; `POST /_sim/admin/shuffle?each_request=true|false`;
//! - `POST /_sim/base_uri?value=…`; `DELETE /_sim/base_uri` — the userinfo `base_uri`.

use crate::core::Sim;
use crate::http::{Ctx, Resp};
use crate::knobs::{AdminNext, Api, EsignDateFormat};
use crate::{Faults, RateLimit};
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
            let n = num(ctx, "n", Some(1usize))?;
            match ctx.param("api") {
                Some(api) => sim.limits.fail_next_on(parsed(api)?, n, status),
                None => sim.fail_next(n, status),
            }
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
        _ => return knob_route(sim, ctx, path),
    })
}

/// Parse a knob value, or answer 400 with the parser's message.
fn parsed<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, Resp> {
    s.parse().map_err(|e: String| bad(&e))
}

fn ids(ids: Vec<String>) -> Resp {
    Resp::json(200, &serde_json::json!({"ids": ids}))
}

/// The behaviour knobs ([`crate::knobs`]).
fn knob_route(sim: &Sim, ctx: &Ctx, path: &str) -> Result<Resp, Resp> {
    let m = &ctx.method;
    Ok(match (m, path) {
        (&Method::POST, "/_sim/garble_next") => {
            let api: Api = parsed(ctx.param("api").unwrap_or(""))?;
            let body = ctx
                .param("body")
                .unwrap_or("<html><body>Service Unavailable</body></html>");
            sim.limits
                .garble_next(api, num(ctx, "n", Some(1usize))?, body);
            ok()
        }
        (&Method::POST, "/_sim/headers_next") => {
            let api: Api = parsed(ctx.param("api").unwrap_or(""))?;
            let status: Option<u16> = match ctx.param("status") {
                Some(_) => Some(num(ctx, "status", None)?),
                None => None,
            };
            let mut headers = Vec::new();
            for (k, v) in &ctx.query {
                if k == "header" {
                    let (name, value) = v
                        .split_once(':')
                        .ok_or_else(|| bad("'header' must be Name:value"))?;
                    headers.push((name, value));
                }
            }
            let overlay = crate::knobs::Overlay::new(status, &headers).map_err(|e| bad(&e))?;
            sim.limits
                .headers_next(api, num(ctx, "n", Some(1usize))?, overlay);
            ok()
        }
        (&Method::GET, "/_sim/esign/unknown") => ids(sim.esign_unknown_user_ids()),
        (&Method::DELETE, "/_sim/esign/unknown") => {
            sim.esign_know_all();
            ok()
        }
        (&Method::POST, "/_sim/esign/unknown") => match ctx.param("ids") {
            Some(list) => {
                let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
                sim.esign_forget(&wanted);
                ids(sim.esign_unknown_user_ids())
            }
            None => ids(sim.esign_forget_last(num(ctx, "n", Some(1usize))?)),
        },
        (&Method::POST, "/_sim/esign/unknown_status") => {
            let status: u16 = num(ctx, "status", Some(400))?;
            sim.knob(|k| k.esign_unknown_status = status);
            ok()
        }
        (&Method::POST, "/_sim/esign/dates") => {
            let offset: Option<i64> = match ctx.param("offset_secs") {
                Some(_) => Some(num(ctx, "offset_secs", None)?),
                None => None,
            };
            let format: Option<EsignDateFormat> = ctx.param("format").map(parsed).transpose()?;
            sim.knob(|k| {
                k.esign_clock_offset = offset.unwrap_or(k.esign_clock_offset);
                k.esign_date_format = format.unwrap_or(k.esign_date_format);
            });
            ok()
        }
        (&Method::POST, "/_sim/esign/list/omit") => ids(sim.mark_list_users(
            num(ctx, "n", Some(1usize))?,
            crate::users::ListMark::Omitted,
        )),
        (&Method::POST, "/_sim/esign/list/undated") => ids(sim.mark_list_users(
            num(ctx, "n", Some(1usize))?,
            crate::users::ListMark::Undated,
        )),
        (&Method::POST, "/_sim/admin/next") => {
            let next: AdminNext = parsed(ctx.param("mode").unwrap_or(""))?;
            sim.knob(|k| k.admin_next = next);
            ok()
        }
        (&Method::POST, "/_sim/admin/reshuffle") => {
            sim.reshuffle_admin();
            ok()
        }
        (&Method::POST, "/_sim/admin/shuffle") => {
            let on: bool = ctx
                .param("each_request")
                .unwrap_or("true")
                .parse()
                .map_err(|_| bad("'each_request' must be true or false"))?;
            sim.knob(|k| k.admin_shuffle_each_request = on);
            ok()
        }
        (&Method::POST, "/_sim/base_uri") => {
            let value = ctx
                .param("value")
                .ok_or_else(|| bad("'value' is required"))?
                .to_string();
            sim.knob(|k| k.base_uri = Some(value));
            ok()
        }
        (&Method::DELETE, "/_sim/base_uri") => {
            sim.knob(|k| k.base_uri = None);
            ok()
        }
        _ => Resp::error(404, "RESOURCE_NOT_FOUND", "No such control endpoint."),
    })
}
