//! A hostile receiver for the sink tests: redirects to a login page, refuses by status (for
//! one token or all), limits the body size; records what it accepted.

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// What the receiver does with a post; changed by the test while the collector runs.
#[derive(Default)]
pub struct Script {
    /// Answer `302 Location: /login?…` to every post while set.
    pub redirect: bool,
    /// Answer this status, with `error_body`, to posts whose Authorization holds `only` (all
    /// posts when `only` is `None`).
    pub refuse: Option<u16>,
    pub only: Option<String>,
    pub error_body: String,
    /// Answer 413 to a body larger than this.
    pub limit: Option<usize>,
    pub posts: usize,
    pub login_gets: usize,
    /// Accepted bodies: (the Authorization header, size, events).
    pub accepted: Vec<(String, usize, Vec<Value>)>,
}

#[derive(Clone, Default)]
pub struct Hostile(Arc<Mutex<Script>>);

impl Hostile {
    /// Serve on a free loopback port; the ingest URL.
    pub async fn start(&self) -> String {
        let app = Router::new()
            .route("/ingest", post(ingest))
            .route("/login", get(login))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/ingest")
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap()
    }

    /// The events accepted from posts whose Authorization ends with `token` (any when `None`).
    pub fn events(&self, token: Option<&str>) -> Vec<Value> {
        self.lock()
            .accepted
            .iter()
            .filter(|(auth, _, _)| token.is_none_or(|t| auth.ends_with(t)))
            .flat_map(|(_, _, e)| e.clone())
            .collect()
    }
}

async fn login(AxState(h): AxState<Hostile>) -> &'static str {
    h.lock().login_gets += 1;
    "<html>Sign in</html>"
}

async fn ingest(AxState(h): AxState<Hostile>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = h.lock();
    s.posts += 1;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if s.redirect {
        return (
            StatusCode::FOUND,
            [("location", "/login?next=%2Fingest&ticket=t1ck3t")],
        )
            .into_response();
    }
    if let Some(status) = s.refuse {
        if s.only.as_deref().is_none_or(|t| auth.ends_with(t)) {
            return (StatusCode::from_u16(status).unwrap(), s.error_body.clone()).into_response();
        }
    }
    if s.limit.is_some_and(|l| body.len() > l) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").into_response();
    }
    let events = crate::common::receiver::decode(&headers, &body);
    s.accepted.push((auth, body.len(), events));
    StatusCode::OK.into_response()
}
