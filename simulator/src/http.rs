//! The HTTP side: the request context, the response type, endpoint kinds and the dispatcher.

use crate::core::Sim;
use crate::knobs::Api;
use crate::{data, limits};
use axum::extract::{Request, State};
use axum::response::Response;
use std::sync::Arc;

/// What the dispatcher knows about a request.
pub(crate) struct Ctx {
    pub method: axum::http::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Ctx {
    /// The first value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// A non-negative integer query parameter (`default` when absent or empty); `Err` is the message.
    pub(crate) fn number(&self, name: &str, default: usize) -> Result<usize, String> {
        match self.param(name).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => s
                .parse()
                .map_err(|_| format!("'{name}' must be a non-negative integer; got '{s}'.")),
        }
    }
    /// The `Host` header (authority the client addressed).
    pub(crate) fn host(&self) -> Option<&str> {
        self.headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
    }
    /// The bearer token, if any.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let v = self
            .headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

/// A response before headers common to all answers are added.
pub(crate) struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Resp {
    pub(crate) fn json(status: u16, v: &serde_json::Value) -> Resp {
        Resp::raw_json(status, v.to_string().into_bytes())
    }
    pub(crate) fn raw_json(status: u16, body: Vec<u8>) -> Resp {
        Resp {
            status,
            body,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
        }
    }
    /// `{"errorCode","message"}` as the Docusign REST APIs answer.
    pub(crate) fn error(status: u16, code: &str, message: &str) -> Resp {
        Resp::json(
            status,
            &serde_json::json!({"errorCode": code, "message": message}),
        )
    }
    /// An error in `api`'s shape: the Admin API's `ErrorDetails` `{"error","error_description"}`,
    /// else `{"errorCode","message"}` (eSignature, Monitor, and the simulator's other answers).
    pub(crate) fn api_error(api: Option<Api>, status: u16, code: &str, message: &str) -> Resp {
        match api {
            Some(Api::Admin) => Resp::json(
                status,
                &serde_json::json!({"error": code, "error_description": message}),
            ),
            _ => Resp::error(status, code, message),
        }
    }
    /// `{"error","error_description"}` as the OAuth server answers.
    pub(crate) fn oauth_error(error: &str, description: Option<&str>) -> Resp {
        let v = match description {
            Some(d) => serde_json::json!({"error": error, "error_description": d}),
            None => serde_json::json!({"error": error}),
        };
        Resp::json(400, &v)
    }
}

/// Endpoint kinds, as counted in [`SimStats::requests`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Token,
    UserInfo,
    Auth,
    Monitor,
    MonitorV1(String),
    AdminUsers(String),
    EsignUser(String, String),
    EsignList(String),
    Control,
    NotFound,
}

impl Kind {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::UserInfo => "userinfo",
            Kind::Auth => "auth",
            Kind::Monitor => "monitor",
            Kind::MonitorV1(_) => "monitor_v1",
            Kind::AdminUsers(_) => "admin_users",
            Kind::EsignUser(..) => "esign_user",
            Kind::EsignList(_) => "esign_list",
            Kind::Control => "control",
            Kind::NotFound => "not_found",
        }
    }

    /// The data API this kind belongs to (`None`: OAuth, control, unknown paths).
    pub(crate) fn api(&self) -> Option<Api> {
        match self {
            Kind::Monitor | Kind::MonitorV1(_) => Some(Api::Monitor),
            Kind::AdminUsers(_) => Some(Api::Admin),
            Kind::EsignUser(..) | Kind::EsignList(_) => Some(Api::Esign),
            _ => None,
        }
    }

    fn classify(method: &axum::http::Method, path: &str) -> Kind {
        use axum::http::Method;
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let get = method == Method::GET;
        match segs.as_slice() {
            ["oauth", "token"] if method == Method::POST => Kind::Token,
            ["oauth", "userinfo"] if get => Kind::UserInfo,
            ["oauth", "auth"] if get => Kind::Auth,
            ["api", "v2.0", "datasets", "monitor", "stream"] if get => Kind::Monitor,
            ["v1", "organizations", org, "stream"] if get => Kind::MonitorV1(org.to_string()),
            ["management" | "Management", "v2", "organizations", org, "users"] if get => {
                Kind::AdminUsers(org.to_string())
            }
            ["restapi", "v2.1", "accounts", acc, "users", user] if get => {
                Kind::EsignUser(acc.to_string(), user.to_string())
            }
            ["restapi", "v2.1", "accounts", acc, "users"] if get => {
                Kind::EsignList(acc.to_string())
            }
            ["_sim", ..] => Kind::Control,
            _ => Kind::NotFound,
        }
    }
}

/// The single handler: routes by path, applies limits and faults, adds common headers.
pub(crate) async fn handle(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 4 << 20)
        .await
        .unwrap_or_default();
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let ctx = Ctx {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body,
    };
    let kind = Kind::classify(&ctx.method, &ctx.path);
    let resp = match &kind {
        Kind::Token => crate::oauth::token(&sim, &ctx),
        Kind::UserInfo => crate::oauth::userinfo(&sim, &ctx),
        Kind::Auth => crate::oauth::auth(&sim, &ctx),
        Kind::Control => crate::control::handle(&sim, &ctx),
        Kind::NotFound => Resp::error(404, "RESOURCE_NOT_FOUND", "No such endpoint."),
        _ => limits::api(&sim, &kind, &ctx).await,
    };
    sim.bump(|s| {
        *s.requests.entry(kind.name().to_string()).or_default() += 1;
        if kind != Kind::Control {
            *s.statuses.entry(resp.status).or_default() += 1;
        }
        if resp.status == 429 {
            s.rate_limited += 1;
        }
    });
    let mut resp = resp;
    resp.headers
        .push(("Date", http_date(sim.knobs().date_skew)));
    into_response(resp)
}

/// An HTTP date (`Fri, 04 Dec 2026 18:02:30 GMT`) `skew` seconds from now, as every answer
/// carries (the `date_skew` knob moves it).
fn http_date(skew: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::seconds(skew);
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn into_response(r: Resp) -> Response {
    let mut b = Response::builder()
        .status(r.status)
        .header("Content-Type", r.content_type)
        .header("X-DocuSign-TraceToken", trace_token());
    for (k, v) in r.headers {
        b = b.header(k, v);
    }
    b.body(axum::body::Body::from(r.body)).unwrap_or_else(|_| {
        let mut resp = Response::new(axum::body::Body::from("response build error"));
        *resp.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

fn trace_token() -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    data::uuid(r.gen(), r.gen())
}
