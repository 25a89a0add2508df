//! The local HTTP API (`[api]`): health, readiness, Prometheus metrics, and the integrations.
//!
//! - Open: `GET /openapi.json` (the contract, [`contract`]), `GET /healthz`, `GET /readyz`,
//!   `GET /metrics`.
//! - Everything else — `GET /integrations`, `GET /integrations/{id}`, `POST /integrations`,
//!   `PATCH`/`DELETE /integrations/{id}`, the actions `POST /integrations/{id}/consent-url`,
//!   `DELETE /integrations/{id}/token`, `POST /integrations/{id}/test`,
//!   `POST /integrations/{id}/fetch`, and any other path — needs the bearer token of
//!   `token_file`, on every address it listens on. Without `token_file` those answer 403 (no
//!   management, not even reading, over an unauthenticated socket). One gate ([`gate`]) in
//!   front of the router decides, so a route added later cannot forget it.
//!
//! `{id}` is the integration's stable integer id (all digits) or its name; `name:<name>`
//! addresses an integration by name whatever it looks like (an all-digit name). Integrations
//! from the configuration file are read-only here (their actions work); those created through
//! the API are stored in the state database and survive restarts. No answer ever contains a key
//! or token.

use crate::cluster::Cluster;
use crate::config::ApiConfig;
use crate::integrations::Integration;
use crate::pipeline::scheduler::ControlSender;
use crate::pipeline::Collector;
use crate::support::secret::Secret;
use crate::support::shutdown::Shutdown;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

mod contract;
mod integrations;
use integrations::{consent_url, create, fetch, list, one, remove, reset_token, test, update};

/// The paths that answer without a token.
const OPEN_PATHS: [&str; 4] = ["/openapi.json", "/healthz", "/readyz", "/metrics"];

#[derive(Clone)]
struct Ctx {
    collector: Arc<Collector>,
    /// This replica's membership, when replicas share PostgreSQL (shown on `/readyz`).
    cluster: Option<Arc<Cluster>>,
    token: Option<Secret>,
    control: ControlSender,
    /// Serialises changes to the set of integrations.
    writes: Arc<tokio::sync::Mutex<()>>,
}

/// Bind `cfg.listen` and serve until `shutdown`.
pub async fn spawn(
    cfg: &ApiConfig,
    collector: Arc<Collector>,
    cluster: Option<Arc<Cluster>>,
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
        cluster,
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

/// One route: its method, its path (as the OpenAPI document writes it), its handler.
type Route = (Method, &'static str, MethodRouter<Ctx>);

macro_rules! route {
    ($method:ident $path:literal $handler:expr) => {
        (Method::$method, $path, on(MethodFilter::$method, $handler))
    };
}

/// Every route of the API. The router is built from this table alone, and a unit test
/// (`contract::tests`) holds it equal to the operations of the OpenAPI document
/// (src/api/openapi.json): a route cannot be added, or dropped, without the contract.
fn routes() -> Vec<Route> {
    vec![
        route!(GET "/openapi.json" contract::document),
        route!(GET "/healthz" || async { "ok\n" }),
        route!(GET "/readyz" readyz),
        route!(GET "/metrics" metrics),
        route!(GET "/integrations" list),
        route!(POST "/integrations" create),
        route!(GET "/integrations/{id}" one),
        route!(PATCH "/integrations/{id}" update),
        route!(DELETE "/integrations/{id}" remove),
        route!(POST "/integrations/{id}/consent-url" consent_url),
        route!(DELETE "/integrations/{id}/token" reset_token),
        route!(POST "/integrations/{id}/test" test),
        route!(POST "/integrations/{id}/fetch" fetch),
    ]
}

fn router(ctx: Ctx) -> Router {
    // Two methods on one path merge into one method router (axum's `route` merges them).
    let app = routes()
        .into_iter()
        .fold(Router::new(), |app, (_, path, handler)| {
            app.route(path, handler)
        });
    app.fallback(|| async { error(StatusCode::NOT_FOUND, "no such path") })
        // Around every route and the fallback: an unknown path or method is no way around it.
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), gate))
        .with_state(ctx)
}

/// The one authorisation check: the open paths pass; everything else needs the token.
async fn gate(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    match authorise(&ctx, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(f) => f.into_response(),
    }
}

/// An error answer: a status and `{"error": message}`.
struct Fail(StatusCode, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        // A request's value can come back in a message (serde quoting a mistyped field): a key
        // pasted there is redacted, as in every configuration error.
        let message = crate::support::secret::redact_key_material(&self.1).into_owned();
        (self.0, Json(json!({"error": message}))).into_response()
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

/// 403 without `token_file` (nothing but the open paths is served), 401 without the right
/// token.
fn authorise(ctx: &Ctx, headers: &HeaderMap) -> Result<(), Fail> {
    if ctx.token.is_none() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "set api.token_file to use this endpoint: without a token only /openapi.json, \
             /healthz, /readyz and /metrics answer",
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

/// How a path segment names an integration: an all-digit segment is its id, `name:<name>` or
/// anything else its name.
#[derive(Debug, PartialEq, Eq)]
enum Address<'a> {
    Id(i64),
    Name(&'a str),
}

fn address(segment: &str) -> Result<Address<'_>, Fail> {
    if let Some(name) = segment.strip_prefix("name:") {
        return Ok(Address::Name(name));
    }
    if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
        return segment.parse().map(Address::Id).map_err(|_| {
            error(
                StatusCode::NOT_FOUND,
                format!("no integration with id {segment}"),
            )
        });
    }
    Ok(Address::Name(segment))
}

/// The name `segment` addresses (an id resolved through the state database), which may not be
/// served (see [`find`]).
fn resolve(ctx: &Ctx, segment: &str) -> Result<String, Fail> {
    match address(segment)? {
        Address::Name(n) => Ok(n.to_string()),
        Address::Id(id) => ctx
            .collector
            .state
            .integration_name(id)
            .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    format!("no integration with id {id}"),
                )
            }),
    }
}

fn find(ctx: &Ctx, segment: &str) -> Result<Arc<Integration>, Fail> {
    let name = resolve(ctx, segment)?;
    ctx.collector
        .registry()
        .integration(&name)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no integration {segment:?}")))
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
    let cluster = ctx.cluster.as_ref().map(|c| c.status());
    // A stored API integration that is not served (its settings do not open, break the API's
    // rules, or its name is the file's) collects nothing until it is fixed or deleted.
    let left_out: Vec<Value> = ctx
        .collector
        .registry()
        .left_out()
        .into_iter()
        .map(|l| json!({"integration": l.name, "error": l.error}))
        .collect();
    // A replica that cannot reach the database cannot renew its leases: not ready.
    let ready =
        failing.is_empty() && left_out.is_empty() && cluster.as_ref().is_none_or(|c| c.database_ok);
    let mut body = if failing.is_empty() {
        json!({"ready": ready})
    } else {
        json!({"ready": false, "failing": failing})
    };
    if let (Some(obj), Some(Value::Object(extra))) = (body.as_object_mut(), reload) {
        obj.extend(extra);
    }
    if let (Some(obj), false) = (body.as_object_mut(), left_out.is_empty()) {
        obj.insert("ready".into(), json!(false));
        obj.insert("left_out".into(), json!(left_out));
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
    use super::{address, same, Address};

    #[test]
    fn digits_are_an_id_and_name_prefix_a_name() {
        assert_eq!(address("34").ok(), Some(Address::Id(34)));
        assert_eq!(address("acme").ok(), Some(Address::Name("acme")));
        assert_eq!(address("name:34").ok(), Some(Address::Name("34")));
        assert_eq!(address("a1").ok(), Some(Address::Name("a1")));
        assert!(address("99999999999999999999999").is_err());
    }

    #[test]
    fn token_comparison() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
    }
}
