//! A real HTTP server inside the test, standing in for what Sluice calls out to (a webhook
//! receiver, an OpenAI-compatible model endpoint): it records every request and answers from a
//! script the test sets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// How the peer answers: status and JSON body, per request number (the last one repeats).
pub type Script = Arc<dyn Fn(usize, &Value) -> (u16, Value) + Send + Sync>;

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    script: Script,
}

/// The running peer.
pub struct Peer {
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    /// Starts on 127.0.0.1:0; every POST is recorded and answered by `script`.
    pub async fn start(script: Script) -> Peer {
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { received: received.clone(), script };
        let app = Router::new().route("/{*path}", post(handle)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind peer");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Peer { base, received, task }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived (up to `within`); returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n || std::time::Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Shared>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = {
        let mut received = shared.received.lock().expect("lock");
        received.push(Received { path: uri.path().to_string(), headers, body: body.clone() });
        received.len() - 1
    };
    let (status, answer) = (shared.script)(n, &body);
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(answer)).into_response()
}
