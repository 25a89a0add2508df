//! The local HTTP API (`[api]`): health, readiness, Prometheus metrics, and the integrations
//! with their per-stream state. Never returns a key or token. Everything except `/healthz`,
//! `/readyz` and `/metrics` needs `Authorization: Bearer <token_file contents>` when
//! `token_file` is set.

use crate::collector::{Collector, Shutdown};
use crate::config::ApiConfig;
use crate::secret::Secret;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone)]
struct Ctx {
    collector: Arc<Collector>,
    token: Option<Secret>,
}

/// Bind `cfg.listen` and serve until `shutdown`.
pub async fn spawn(
    cfg: &ApiConfig,
    collector: Arc<Collector>,
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
    let app = router(Ctx { collector, token });
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
        .route("/integrations", get(list))
        .route("/integrations/{id}", get(one))
        .with_state(ctx)
}

fn authorized(ctx: &Ctx, headers: &HeaderMap) -> bool {
    match &ctx.token {
        None => true,
        Some(t) => headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|v| v.trim() == t.expose()),
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "missing or wrong bearer token"})),
    )
        .into_response()
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
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::global().render(),
    )
        .into_response()
}

fn describe(ctx: &Ctx, i: &crate::collector::Integration) -> Value {
    let c = &i.config;
    let streams = ctx
        .collector
        .state
        .streams(Some(&c.name))
        .unwrap_or_default();
    let expiry = ctx.collector.state.token_expiry(&c.name).ok().flatten();
    json!({
        "id": c.name,
        "name": c.name,
        "status": if c.is_active() { "active" } else { "inactive" },
        "data": {
            "environment": match c.environment { crate::config::Environment::Developer => "stage", crate::config::Environment::Production => "production" },
            "changeKeys": c.change_keys,
            "eventTypes": c.event_types,
            "accountId": c.account_id,
            "organizationId": c.organization_id,
        },
        "integration": {"id": 8, "name": "Docusign", "slug": "docusign"},
        "token_expires_at": expiry.map(crate::record::format_time),
        "streams": streams,
    })
}

async fn list(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if !authorized(&ctx, &headers) {
        return unauthorized();
    }
    let all: Vec<Value> = ctx
        .collector
        .integrations
        .iter()
        .map(|i| describe(&ctx, i))
        .collect();
    Json(all).into_response()
}

async fn one(State(ctx): State<Ctx>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&ctx, &headers) {
        return unauthorized();
    }
    match ctx.collector.integration(&id) {
        Some(i) => Json(describe(&ctx, i)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no integration {id:?}")})),
        )
            .into_response(),
    }
}
