//! Shared simulator state, the request context, the response type and the dispatcher.

use super::data::{self, EventCtx, User};
use super::{limits, Faults, RateLimit, SimConfig, SimStats};
use axum::extract::{Request, State};
use axum::response::Response;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

/// Lock a mutex, recovering from poisoning (state stays usable for tests).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    pub expires: Instant,
}

/// Simulator state shared by all requests.
pub(crate) struct Sim {
    pub cfg: SimConfig,
    pub base_url: String,
    pub other_account_id: String,
    pub event_ctx: EventCtx,
    /// Ingestion time of each event (100 ns ticks since the Unix epoch), non-decreasing.
    pub events: RwLock<Vec<i64>>,
    pub users: Mutex<Vec<User>>,
    pub initial_users: u64,
    pub modify_cursor: Mutex<usize>,
    pub tokens: Mutex<HashMap<String, Token>>,
    pub consents: Mutex<HashMap<String, BTreeSet<String>>>,
    pub limits: limits::Limits,
    pub stats: Mutex<SimStats>,
    pub esign_in_flight: AtomicU64,
}

impl Sim {
    pub(crate) fn new(cfg: SimConfig, base_url: String) -> Sim {
        let now = data::now_ticks();
        let n = cfg.backlog_events as i64;
        let span = (cfg.backlog_span.as_nanos() / 100).min(i64::MAX as u128 / 4) as i64;
        let start = now - span;
        let events: Vec<i64> = (0..n)
            .map(|i| start + ((span as i128 * i as i128) / n.max(1) as i128) as i64)
            .collect();
        let users = data::initial_users(cfg.seed, cfg.users, data::now_secs());
        let ik = cfg
            .clients
            .first()
            .map(|c| c.integration_key.clone())
            .unwrap_or_default();
        let event_ctx = EventCtx::new(
            cfg.seed,
            &cfg.account_id,
            &cfg.organization_id,
            &ik,
            cfg.users as u64,
        );
        let consents = cfg
            .clients
            .iter()
            .map(|c| {
                (
                    c.integration_key.clone(),
                    c.consented_scopes.iter().cloned().collect(),
                )
            })
            .collect();
        Sim {
            other_account_id: data::uuid(data::h(cfg.seed, 1, 1), data::h(cfg.seed, 1, 2)),
            initial_users: cfg.users as u64,
            limits: limits::Limits::new(cfg.seed),
            event_ctx,
            base_url,
            events: RwLock::new(events),
            users: Mutex::new(users),
            modify_cursor: Mutex::new(0),
            tokens: Mutex::new(HashMap::new()),
            consents: Mutex::new(consents),
            stats: Mutex::new(SimStats::default()),
            esign_in_flight: AtomicU64::new(0),
            cfg,
        }
    }

    pub(crate) fn events_read(&self) -> std::sync::RwLockReadGuard<'_, Vec<i64>> {
        self.events.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn append_events(&self, n: usize) {
        let now = data::now_ticks();
        let mut ev = self.events.write().unwrap_or_else(|e| e.into_inner());
        let t = ev.last().copied().map_or(now, |last| last.max(now));
        let len = ev.len();
        ev.resize(len + n, t);
    }

    pub(crate) fn event_count(&self) -> usize {
        self.events_read().len()
    }

    pub(crate) fn event_ids(&self) -> Vec<String> {
        (0..self.event_count() as u64)
            .map(|i| data::event_id(self.cfg.seed, i))
            .collect()
    }

    pub(crate) fn modify_users(&self, n: usize) -> Vec<String> {
        let now = data::now_secs();
        let mut users = lock(&self.users);
        if users.is_empty() {
            return Vec::new();
        }
        let mut cursor = lock(&self.modify_cursor);
        let n = n.min(users.len());
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let i = *cursor % users.len();
            *cursor += 1;
            users[i].modified = now;
            ids.push(users[i].id.clone());
        }
        ids
    }

    pub(crate) fn add_users(&self, n: usize) -> Vec<String> {
        let now = data::now_secs();
        let mut users = lock(&self.users);
        let first = users.len() as u64;
        (first..first + n as u64)
            .map(|i| {
                let u = data::make_user(self.cfg.seed, i, now, now);
                let id = u.id.clone();
                users.push(u);
                id
            })
            .collect()
    }

    pub(crate) fn user_count(&self) -> usize {
        lock(&self.users).len()
    }

    /// Users in listing order.
    pub(crate) fn sorted_users(&self) -> Vec<User> {
        let mut users = lock(&self.users).clone();
        users.sort_by_key(|u| (u.order, u.index));
        users
    }

    pub(crate) fn user_ids(&self) -> Vec<String> {
        self.sorted_users().into_iter().map(|u| u.id).collect()
    }

    /// Whether eSignature knows user `index`.
    pub(crate) fn esign_knows(&self, index: u64) -> bool {
        let unknown = self.cfg.esign_unknown_users as u64;
        !(index < self.initial_users && index + unknown >= self.initial_users)
    }

    pub(crate) fn esign_unknown_user_ids(&self) -> Vec<String> {
        lock(&self.users)
            .iter()
            .filter(|u| !self.esign_knows(u.index))
            .map(|u| u.id.clone())
            .collect()
    }

    pub(crate) fn set_consent(&self, ik: &str, scopes: BTreeSet<String>) {
        lock(&self.consents).insert(ik.to_string(), scopes);
    }

    pub(crate) fn add_consent(&self, ik: &str, scopes: impl IntoIterator<Item = String>) {
        lock(&self.consents)
            .entry(ik.to_string())
            .or_default()
            .extend(scopes);
    }

    pub(crate) fn revoke_tokens(&self) {
        lock(&self.tokens).clear();
    }

    pub(crate) fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.limits.set_rate_limit(limit);
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        self.limits.set_faults(faults);
    }

    pub(crate) fn delay_next(&self, n: usize, delay: std::time::Duration) {
        self.limits.delay_next(n, delay);
    }

    pub(crate) fn fail_next(&self, n: usize, status: u16) {
        self.limits.fail_next(n, status);
    }

    pub(crate) fn stats(&self) -> SimStats {
        lock(&self.stats).clone()
    }

    pub(crate) fn bump(&self, f: impl FnOnce(&mut SimStats)) {
        f(&mut lock(&self.stats));
    }
}

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
            Kind::Control => "control",
            Kind::NotFound => "not_found",
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
            ["management", "v2", "organizations", org, "users"] if get => {
                Kind::AdminUsers(org.to_string())
            }
            ["restapi", "v2.1", "accounts", acc, "users", user] if get => {
                Kind::EsignUser(acc.to_string(), user.to_string())
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
        Kind::Token => super::oauth::token(&sim, &ctx),
        Kind::UserInfo => super::oauth::userinfo(&sim, &ctx),
        Kind::Auth => super::oauth::auth(&sim, &ctx),
        Kind::Control => super::control::handle(&sim, &ctx),
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
    into_response(resp)
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

/// Append events continuously at `per_sec`.
pub(crate) async fn live_events(sim: Arc<Sim>, per_sec: f64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    let mut owed = 0.0f64;
    let mut last = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        owed += per_sec * now.duration_since(last).as_secs_f64();
        last = now;
        let whole = owed.floor();
        if whole >= 1.0 {
            owed -= whole;
            sim.append_events(whole as usize);
        }
    }
}
