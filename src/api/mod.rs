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
use crate::integrations::Integration;
use crate::pipeline::scheduler::ControlSender;
use crate::pipeline::Collector;
use crate::support::secret::Secret;
use crate::support::shutdown::Shutdown;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

mod integrations;
use integrations::{consent_url, create, fetch, list, one, remove, reset_token, test, update};

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
            crate::support::credentials::read_token(p)
                .map_err(|e| format!("api.token_file: {e}"))?,
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
    let streams = match ctx.collector.state.stream_runs(None) {
        Ok(s) => s,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"ready": false, "error": e.to_string()})),
            )
                .into_response()
        }
    };
    // With replicas, this one answers for the integrations it holds; another replica's
    // failing stream is that replica's to report.
    let failing: Vec<Value> = streams
        .iter()
        .filter(|s| {
            ctx.collector
                .registry()
                .integration(&s.integration)
                .is_some_and(|i| i.config.is_active())
                && ctx.collector.state.holds(&s.integration)
        })
        .filter_map(|s| {
            let err = s.last_run.as_ref()?.error.as_ref()?;
            Some(json!({"integration": s.integration, "event_type": s.event_type, "error": err}))
        })
        .collect();
    // A refused reload leaves the old configuration collecting: ready, with the reason.
    let reload = ctx
        .collector
        .reload_failure()
        .map(|e| json!({"last_reload": {"ok": false, "error": e}}));
    let cluster = ctx.collector.cluster().map(|c| c.status());
    // A replica that cannot reach the database cannot renew its leases: not ready.
    let ready = failing.is_empty() && cluster.as_ref().is_none_or(|c| c.database_ok);
    let mut body = if failing.is_empty() {
        json!({"ready": ready})
    } else {
        json!({"ready": false, "failing": failing})
    };
    if let (Some(obj), Some(Value::Object(extra))) = (body.as_object_mut(), reload) {
        obj.extend(extra);
    }
    if let (Some(obj), Some(c)) = (body.as_object_mut(), cluster) {
        obj.insert("replica".into(), json!(c));
    }
    if ready {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn metrics() -> Response {
    (
        [("content-type", crate::telemetry::CONTENT_TYPE)],
        crate::telemetry::render(),
    )
        .into_response()
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
