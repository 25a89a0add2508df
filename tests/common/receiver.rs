//! An in-test SIEM receiver (axum): records every accepted body, decoded; answers with the
//! status a test scripts.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::io::Read;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Inner {
    /// Answer this status to the next `fail_next` posts.
    pub fail_next: usize,
    pub fail_status: u16,
    /// Answer this status to every post while set.
    pub always: Option<u16>,
    /// Accepted posts: (events, uncompressed bytes, headers).
    pub posts: Vec<(usize, usize, HeaderMap)>,
    pub events: Vec<Value>,
    pub attempts: usize,
}

#[derive(Clone, Default)]
pub struct Receiver(pub Arc<Mutex<Inner>>);

impl Receiver {
    /// Serve on a free loopback port; returns the ingest URL.
    pub async fn start(&self) -> String {
        self.start_on(([127, 0, 0, 1], 0).into()).await
    }

    /// Serve on `addr` (a port from [`free_port`] for a receiver that comes up late).
    pub async fn start_on(&self, addr: std::net::SocketAddr) -> String {
        let app = Router::new()
            .route("/ingest", post(ingest))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/ingest")
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap()
    }

    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }
}

/// The events of one posted body (gzip, JSON array or concatenated objects).
pub fn decode(headers: &HeaderMap, body: &[u8]) -> Vec<Value> {
    let mut raw = Vec::new();
    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut raw)
            .expect("valid gzip");
    } else {
        raw = body.to_vec();
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if raw.first() == Some(&b'[') {
        assert_eq!(ct, "application/json");
        serde_json::from_slice::<Vec<Value>>(&raw).expect("a JSON array")
    } else {
        serde_json::Deserializer::from_slice(&raw)
            .into_iter::<Value>()
            .map(|v| v.expect("concatenated JSON objects"))
            .collect()
    }
}

async fn ingest(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut inner = r.0.lock().unwrap();
    inner.attempts += 1;
    if let Some(s) = inner.always {
        return StatusCode::from_u16(s).unwrap();
    }
    if inner.fail_next > 0 {
        inner.fail_next -= 1;
        return StatusCode::from_u16(inner.fail_status).unwrap();
    }
    let events = decode(&headers, &body);
    let size = if headers.get("content-encoding").is_some() {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut raw)
            .unwrap();
        raw.len()
    } else {
        body.len()
    };
    inner.posts.push((events.len(), size, headers));
    inner.events.extend(events);
    StatusCode::OK
}

/// A loopback address nothing listens on (yet): connections to it are refused.
pub fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
