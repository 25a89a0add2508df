//! The integration endpoints: list, describe, create, change, delete, and the actions
//! (consent URL, forget the token, test, fetch now).

use super::contract::Segment;
use super::{error, find, resolve, Answer, Ctx, Fail};
use crate::integrations::managed;
use crate::integrations::{Integration, Origin};
use crate::pipeline::scheduler::Control;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn describe(ctx: &Ctx, i: &Integration) -> Value {
    let (source, created, updated) = match i.origin {
        Origin::File => ("config", None, None),
        Origin::Api {
            created_at,
            updated_at,
        } => ("api", Some(created_at), Some(updated_at)),
    };
    let name = &i.config.name;
    // Assigned when the name is first seen (the registry assigns every name at load; a file
    // integration added by a reload gets its id here).
    let id = ctx.collector.state.integration_id(name).ok();
    let mut v = managed::record(&i.config, id, source, created, updated);
    v["streams"] = json!(ctx
        .collector
        .state
        .streams(Some(name))
        .unwrap_or_default()
        .iter()
        .map(crate::sources::stream_view)
        .collect::<Vec<_>>());
    v["token_expires_at"] = json!(ctx
        .collector
        .state
        .token_expiry(name)
        .ok()
        .flatten()
        .map(crate::record::format_time));
    if let Ok(Some(lease)) = ctx.collector.state.lease_view(name) {
        v["lease"] = lease;
    }
    v
}

pub(super) async fn list(State(ctx): State<Ctx>) -> Answer {
    let all: Vec<Value> = ctx
        .collector
        .registry()
        .integrations()
        .iter()
        .map(|i| describe(&ctx, i))
        .collect();
    Ok(Json(all).into_response())
}

pub(super) async fn one(State(ctx): State<Ctx>, Segment(id): Segment) -> Answer {
    let i = find(&ctx, &id)?;
    Ok(Json(describe(&ctx, &i)).into_response())
}

/// A create or update request: `{"integration": 8, "name", "status", "data": {…}}`.
struct Request {
    name: Option<String>,
    status: Option<String>,
    data: Option<Value>,
}

fn parse_request(body: &[u8]) -> Result<Request, Fail> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Value::Object(m) = v else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        ));
    };
    for k in m.keys() {
        if !["integration", "name", "status", "data"].contains(&k.as_str()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("unknown field {k:?}: expected integration, name, status, data"),
            ));
        }
    }
    match m.get("integration") {
        None | Some(Value::Null) => {}
        Some(v) if v == &json!(8) || v.get("id") == Some(&json!(8)) => {}
        Some(v) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("integration {v} is not Docusign (8)"),
            ))
        }
    }
    let text = |k: &str| -> Result<Option<String>, Fail> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(error(
                StatusCode::BAD_REQUEST,
                format!("{k} must be a string"),
            )),
        }
    };
    let status = text("status")?;
    if let Some(s) = &status {
        if s != "active" && s != "inactive" {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("status {s:?}: use \"active\" or \"inactive\""),
            ));
        }
    }
    Ok(Request {
        name: text("name")?,
        status,
        data: m.get("data").cloned(),
    })
}

/// Validate `settings`, build the integration, store it, swap it in and (re)start its streams.
async fn install(
    ctx: &Ctx,
    name: &str,
    settings: Map<String, Value>,
) -> Result<Arc<Integration>, Fail> {
    let registry = ctx.collector.registry();
    let files: Vec<_> = registry
        .integrations()
        .iter()
        .filter(|i| matches!(i.origin, Origin::File))
        .map(|i| i.config.clone())
        .collect();
    let cfg = managed::to_config(&settings, &files, registry.policy())
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    if cfg.private_key.is_some() && !ctx.collector.state.can_seal() {
        return Err(error(
            StatusCode::CONFLICT,
            "a private key is stored only sealed: set [api] seal_key_file to a file of 64 hex \
             digits (`(umask 077; openssl rand -hex 32 > seal-key)`, or a systemd credential)",
        ));
    }
    let mut integ = Integration::new(cfg, ctx.collector.state.clone())
        .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
    let text = serde_json::to_string(&settings)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let stored = ctx
        .collector
        .state
        .save_managed_integration(name, &text)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    integ.origin = Origin::Api {
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    };
    let integ = Arc::new(integ);
    ctx.collector.registry().upsert(integ.clone());
    let _ = ctx.control.send(Control::Restart(name.to_string())).await;
    Ok(integ)
}

pub(super) async fn create(State(ctx): State<Ctx>, body: Bytes) -> Answer {
    let req = parse_request(&body)?;
    let name = req.name.ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "name is required (^[a-z0-9_-]+$; it keys all state)",
        )
    })?;
    let _guard = ctx.writes.lock().await;
    if let Some(existing) = ctx.collector.registry().integration(&name) {
        let message = match existing.origin {
            Origin::File => format!(
                "integration {name:?} is defined in the configuration file: an integration \
                 created through the API needs a name of its own (the name keys cursors and \
                 tokens)"
            ),
            Origin::Api { .. } => format!("integration {name:?} exists: change it with PATCH"),
        };
        return Err(error(StatusCode::CONFLICT, message));
    }
    if ctx
        .collector
        .registry()
        .left_out()
        .iter()
        .any(|l| l.name == name)
    {
        return Err(error(
            StatusCode::CONFLICT,
            format!(
                "integration {name:?} is stored but left out (see /readyz): delete it first \
                 (DELETE /integrations/name:{name})"
            ),
        ));
    }
    let settings =
        managed::merge_settings(&Map::new(), &name, req.status.as_deref(), req.data.as_ref())
            .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let i = install(&ctx, &name, settings).await?;
    // The id is the name's from now on (kept if the name had one before).
    if let Err(e) = ctx.collector.state.integration_id(&name) {
        tracing::warn!(integration = %name, "no id assigned yet: {e}");
    }
    tracing::info!(integration = %name, "integration created through the API");
    Ok((StatusCode::CREATED, Json(describe(&ctx, &i))).into_response())
}

fn api_managed(i: &Integration) -> Result<(), Fail> {
    match i.origin {
        Origin::Api { .. } => Ok(()),
        Origin::File => Err(defined_in_file(i.name())),
    }
}

fn defined_in_file(name: &str) -> Fail {
    error(
        StatusCode::CONFLICT,
        format!("integration {name:?} is defined in the configuration file: change it there"),
    )
}

pub(super) async fn update(State(ctx): State<Ctx>, Segment(id): Segment, body: Bytes) -> Answer {
    let req = parse_request(&body)?;
    let _guard = ctx.writes.lock().await;
    let current = find(&ctx, &id)?;
    let name = current.name().to_string();
    if req.name.as_deref().is_some_and(|n| n != name) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "an integration cannot be renamed (its name keys all state)",
        ));
    }
    api_managed(&current)?;
    let stored = ctx
        .collector
        .state
        .managed_integration(&name)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no integration {id:?}")))?;
    let base: Map<String, Value> = serde_json::from_str(&stored.data).unwrap_or_default();
    let settings = managed::merge_settings(&base, &name, req.status.as_deref(), req.data.as_ref())
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let i = install(&ctx, &name, settings).await?;
    tracing::info!(integration = %name, "integration changed through the API");
    Ok(Json(describe(&ctx, &i)).into_response())
}

/// Delete an integration created through the API — or a stored one that is left out (its
/// settings do not open, break the API's rules, or its name is now the file's: the file's
/// integration of that name stays, it cannot be deleted here).
pub(super) async fn remove(State(ctx): State<Ctx>, Segment(id): Segment) -> Answer {
    let _guard = ctx.writes.lock().await;
    let name = resolve(&ctx, &id)?;
    let registry = ctx.collector.registry();
    let served = registry.integration(&name);
    let served_from_api = served
        .as_ref()
        .is_some_and(|i| matches!(i.origin, Origin::Api { .. }));
    let left_out = registry.left_out().iter().any(|l| l.name == name);
    if !served_from_api && !left_out {
        return Err(match served {
            Some(_) => defined_in_file(&name),
            None => error(StatusCode::NOT_FOUND, format!("no integration {id:?}")),
        });
    }
    ctx.collector
        .state
        .delete_managed_integration(&name)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    registry.forget_left_out(&name);
    if served_from_api {
        registry.remove(&name);
        let _ = ctx.control.send(Control::Stop(name.clone())).await;
    }
    tracing::info!(integration = %name, "integration deleted through the API (its cursors stay in the state database)");
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn consent_url(State(ctx): State<Ctx>, Segment(id): Segment) -> Answer {
    let i = find(&ctx, &id)?;
    Ok(Json(json!({"url": i.auth.consent_url(), "scopes": i.auth.scopes()})).into_response())
}

pub(super) async fn reset_token(State(ctx): State<Ctx>, Segment(id): Segment) -> Answer {
    let i = find(&ctx, &id)?;
    let had = i
        .auth
        .reset()
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!({"forgotten": had})).into_response())
}

pub(super) async fn test(State(ctx): State<Ctx>, Segment(id): Segment) -> Answer {
    let i = find(&ctx, &id)?;
    let steps = crate::integrations::probe::test_integration(&i).await;
    let ok = steps.iter().all(|s| s.ok);
    Ok(Json(json!({"ok": ok, "steps": steps})).into_response())
}

pub(super) async fn fetch(State(ctx): State<Ctx>, Segment(id): Segment) -> Answer {
    let i = find(&ctx, &id)?;
    if !i.config.is_active() {
        return Err(error(
            StatusCode::CONFLICT,
            format!("integration {:?} is inactive", i.name()),
        ));
    }
    let _ = ctx.control.send(Control::Fetch(i.name().to_string())).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"fetching": i.config.event_types})),
    )
        .into_response())
}
