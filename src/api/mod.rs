//! The local HTTP API (`[api]`): health, readiness, Prometheus metrics, and the integrations.
//!
//! - Open: `GET /healthz`, `GET /readyz`, `GET /metrics`.
//! - Bearer token (`token_file`) when configured: `GET /integrations`, `GET /integrations/{id}`.
//! - Bearer token, and only when `token_file` is configured (no management over an unauthenticated
//!   socket): `POST /integrations`, `PATCH`/`DELETE /integrations/{id}`, and the actions
//!   `POST /integrations/{id}/consent-url`, `DELETE /integrations/{id}/token`,
//!   `POST /integrations/{id}/test`, `POST /integrations/{id}/fetch`.
//!
//! `{id}` is the integration's name. Integrations from the configuration file are read-only here
//! (their actions work); those created through the API are stored in the state database and
//! survive restarts. No answer ever contains a key or token.

use crate::config::ApiConfig;
use crate::integrations::managed;
use crate::integrations::{Integration, Origin};
use crate::pipeline::scheduler::{Control, ControlSender};
use crate::pipeline::Collector;
use crate::support::secret::Secret;
use crate::support::shutdown::Shutdown;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::sync::Arc;

#[derive(Clone)]
struct Ctx {
    collector: Arc<Collector>,
    token: Option<Secret>,
    control: ControlSender,
    /// Serialises changes to the set of integrations.
    writes: Arc<tokio::sync::Mutex<()>>,
}

/// Bind `cfg.listen` and serve until `shutdown`.
pub async fn spawn(
    cfg: &ApiConfig,
    collector: Arc<Collector>,
    control: ControlSender,
    shutdown: Shutdown,
) -> Result<(), String> {
    let token = match &cfg.token_file {
        Some(p) => Some(Secret::new(
            std::fs::read_to_string(p)
                .map_err(|e| format!("api.token_file {}: {e}", p.display()))?
                .trim()
                .to_string(),
        )),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("local API cannot listen on {}: {e}", cfg.listen))?;
    tracing::info!(listen = %cfg.listen, "local API listening");
    let app = router(Ctx {
        collector,
        token,
        control,
        writes: Arc::default(),
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
    });
    Ok(())
}

fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/integrations", get(list).post(create))
        .route("/integrations/{id}", get(one).patch(update).delete(remove))
        .route("/integrations/{id}/consent-url", post(consent_url))
        .route("/integrations/{id}/token", delete(reset_token))
        .route("/integrations/{id}/test", post(test))
        .route("/integrations/{id}/fetch", post(fetch))
        .with_state(ctx)
}

/// An error answer: a status and `{"error": message}`.
struct Fail(StatusCode, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Fail {
    Fail(status, message.into())
}

type Answer = Result<Response, Fail>;

/// Constant-time comparison (`subtle`), so the token cannot be guessed byte by byte from answer
/// times.
fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

fn bearer_ok(ctx: &Ctx, headers: &HeaderMap) -> bool {
    let Some(t) = &ctx.token else { return false };
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|v| same(v.trim().as_bytes(), t.expose().as_bytes()))
}

fn check_read(ctx: &Ctx, headers: &HeaderMap) -> Result<(), Fail> {
    if ctx.token.is_none() || bearer_ok(ctx, headers) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
        ))
    }
}

fn check_write(ctx: &Ctx, headers: &HeaderMap) -> Result<(), Fail> {
    if ctx.token.is_none() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "set api.token_file to manage integrations through the API",
        ));
    }
    if bearer_ok(ctx, headers) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
        ))
    }
}

fn find(ctx: &Ctx, id: &str) -> Result<Arc<Integration>, Fail> {
    ctx.collector
        .registry()
        .integration(id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no integration {id:?}")))
}

async fn readyz(State(ctx): State<Ctx>) -> Response {
    let streams = match ctx.collector.state.streams(None) {
        Ok(s) => s,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"ready": false, "error": e.to_string()})),
            )
                .into_response()
        }
    };
    let failing: Vec<Value> = streams
        .iter()
        .filter(|s| {
            ctx.collector
                .registry()
                .integration(&s.integration)
                .is_some_and(|i| i.config.is_active())
        })
        .filter_map(|s| {
            let err = s.last_run.as_ref()?.error.as_ref()?;
            Some(json!({"integration": s.integration, "event_type": s.event_type, "error": err}))
        })
        .collect();
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({"ready": true}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "failing": failing})),
        )
            .into_response()
    }
}

async fn metrics() -> Response {
    (
        [("content-type", crate::telemetry::CONTENT_TYPE)],
        crate::telemetry::render(),
    )
        .into_response()
}

fn describe(ctx: &Ctx, i: &Integration) -> Value {
    let (source, created, updated) = match i.origin {
        Origin::File => ("config", None, None),
        Origin::Api {
            created_at,
            updated_at,
        } => ("api", Some(created_at), Some(updated_at)),
    };
    let mut v = managed::record(&i.config, source, created, updated);
    let name = &i.config.name;
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
    v
}

async fn list(State(ctx): State<Ctx>, headers: HeaderMap) -> Answer {
    check_read(&ctx, &headers)?;
    let all: Vec<Value> = ctx
        .collector
        .registry()
        .integrations()
        .iter()
        .map(|i| describe(&ctx, i))
        .collect();
    Ok(Json(all).into_response())
}

async fn one(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    check_read(&ctx, &headers)?;
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
    let others: Vec<_> = ctx
        .collector
        .registry()
        .integrations()
        .iter()
        .map(|i| i.config.clone())
        .collect();
    let cfg =
        managed::to_config(&settings, &others).map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
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

async fn create(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Answer {
    check_write(&ctx, &headers)?;
    let req = parse_request(&body)?;
    let name = req.name.ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "name is required (^[a-z0-9_-]+$; it keys all state)",
        )
    })?;
    let _guard = ctx.writes.lock().await;
    if ctx.collector.registry().integration(&name).is_some() {
        return Err(error(
            StatusCode::CONFLICT,
            format!("integration {name:?} exists"),
        ));
    }
    let settings =
        managed::merge_settings(&Map::new(), &name, req.status.as_deref(), req.data.as_ref())
            .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let i = install(&ctx, &name, settings).await?;
    tracing::info!(integration = %name, "integration created through the API");
    Ok((StatusCode::CREATED, Json(describe(&ctx, &i))).into_response())
}

fn api_managed(i: &Integration) -> Result<(), Fail> {
    match i.origin {
        Origin::Api { .. } => Ok(()),
        Origin::File => Err(error(
            StatusCode::CONFLICT,
            format!(
                "integration {:?} is defined in the configuration file: change it there",
                i.name()
            ),
        )),
    }
}

async fn update(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    check_write(&ctx, &headers)?;
    let req = parse_request(&body)?;
    if req.name.as_deref().is_some_and(|n| n != id) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "an integration cannot be renamed (its name keys all state)",
        ));
    }
    let _guard = ctx.writes.lock().await;
    let current = find(&ctx, &id)?;
    api_managed(&current)?;
    let stored = ctx
        .collector
        .state
        .managed_integration(current.name())
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no integration {id:?}")))?;
    let base: Map<String, Value> = serde_json::from_str(&stored.data).unwrap_or_default();
    let settings = managed::merge_settings(&base, &id, req.status.as_deref(), req.data.as_ref())
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let i = install(&ctx, &id, settings).await?;
    tracing::info!(integration = %id, "integration changed through the API");
    Ok(Json(describe(&ctx, &i)).into_response())
}

async fn remove(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    check_write(&ctx, &headers)?;
    let _guard = ctx.writes.lock().await;
    let current = find(&ctx, &id)?;
    api_managed(&current)?;
    ctx.collector
        .state
        .delete_managed_integration(&id)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    ctx.collector.registry().remove(&id);
    let _ = ctx.control.send(Control::Stop(id.clone())).await;
    tracing::info!(integration = %id, "integration deleted through the API (its cursors stay in the state database)");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn consent_url(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    check_write(&ctx, &headers)?;
    let i = find(&ctx, &id)?;
    Ok(Json(json!({"url": i.auth.consent_url(), "scopes": i.auth.scopes()})).into_response())
}

async fn reset_token(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    check_write(&ctx, &headers)?;
    let i = find(&ctx, &id)?;
    let had = i
        .auth
        .reset()
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!({"forgotten": had})).into_response())
}

async fn test(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    check_write(&ctx, &headers)?;
    let i = find(&ctx, &id)?;
    let steps = crate::diagnose::test_integration(&i).await;
    let ok = steps.iter().all(|s| s.ok);
    Ok(Json(json!({"ok": ok, "steps": steps})).into_response())
}

async fn fetch(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    check_write(&ctx, &headers)?;
    let i = find(&ctx, &id)?;
    if !i.config.is_active() {
        return Err(error(
            StatusCode::CONFLICT,
            format!("integration {id:?} is inactive"),
        ));
    }
    let _ = ctx.control.send(Control::Fetch(id)).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"fetching": i.config.event_types})),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn token_comparison() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
    }
}
