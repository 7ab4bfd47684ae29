//! Starting Sluice for a test and talking to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sluice::config::Pipeline;
use sluice::{Running, Server, ServerOptions};

/// The default pipeline's shape, for tests that need the standard guests.
pub const DEFAULT_PIPELINE: &str = "
inputs:
  - http: {}
stages:
  - name: normalize
    guest: normalize
  - name: mine
    guest: mine
outputs:
  - libsql: {}
  - websocket: {}
";

/// Path of a test fixture guest built from `guests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("SLUICE_GUESTS_DIR")).join(format!("{name}.wasm"))
}

/// A Sluice running in this process on an ephemeral port, with its own data directory.
pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub client: reqwest::Client,
    pub data: tempfile::TempDir,
    pipeline_yaml: String,
    key: Option<Vec<u8>>,
    access: sluice::api::Access,
    precompiled_dir: Option<PathBuf>,
}

impl TestServer {
    pub async fn start(pipeline_yaml: &str) -> TestServer {
        TestServer::start_with_key(pipeline_yaml, None).await
    }

    pub async fn start_with_key(pipeline_yaml: &str, key: Option<&[u8]>) -> TestServer {
        TestServer::start_with(pipeline_yaml, key, sluice::api::Access::default()).await
    }

    /// With management API access rules (a token, trusted signing keys).
    pub async fn start_with(pipeline_yaml: &str, key: Option<&[u8]>, access: sluice::api::Access) -> TestServer {
        let data = tempfile::tempdir().expect("tempdir");
        let mut server = TestServer {
            running: None,
            base: String::new(),
            client: reqwest::Client::new(),
            data,
            pipeline_yaml: pipeline_yaml.to_string(),
            key: key.map(<[u8]>::to_vec),
            access,
            precompiled_dir: None,
        };
        server.boot().await;
        server
    }

    /// Running guests precompiled into `dir` (`sluice guest precompile`).
    pub async fn start_precompiled(pipeline_yaml: &str, dir: &Path) -> TestServer {
        let mut server = TestServer::start(pipeline_yaml).await;
        server.stop().await;
        std::fs::remove_dir_all(server.data.path().join("data")).expect("a fresh data directory");
        server.precompiled_dir = Some(dir.to_path_buf());
        server.boot().await;
        server
    }

    async fn boot(&mut self) {
        let path = self.data.path().join("pipeline.yaml");
        std::fs::write(&path, &self.pipeline_yaml).expect("write pipeline");
        let pipeline = Pipeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let options = ServerOptions {
            data_dir: self.data.path().join("data"),
            db_key: self.key.clone(),
            pipeline,
            shutdown_timeout: Duration::from_secs(30),
            access: self.access.clone(),
            precompiled_dir: self.precompiled_dir.clone(),
            store_cache_mib: sluice::server::DEFAULT_STORE_CACHE_MIB,
            ack: sluice::journal::Ack::Synced,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let running = Server::start(options, listener).await.unwrap_or_else(|e| panic!("start: {e}"));
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// Graceful stop and start again on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    /// The pipeline file the server runs (rewriting it triggers a reload).
    pub fn pipeline_path(&self) -> PathBuf {
        self.data.path().join("pipeline.yaml")
    }

    /// Sends a request with a JSON body (or none); returns status and JSON reply.
    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// Uploads a component as a version of guest `name`.
    pub async fn push(&self, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let response = self
            .client
            .put(self.url(&format!("/api/v1/guests/{name}")))
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .expect("upload");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap_or(Value::Null))
    }

    pub async fn activate(&self, name: &str, version: &str) -> (u16, Value) {
        self.send_json(
            reqwest::Method::POST,
            &format!("/api/v1/guests/{name}/activate"),
            Some(serde_json::json!({ "version": version })),
        )
        .await
    }

    /// `GET /api/v1/guests`.
    pub async fn guests(&self) -> Value {
        let (status, _, json) = self.get("/api/v1/guests").await;
        assert_eq!(status, 200, "{json}");
        json
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn db_path(&self) -> PathBuf {
        self.data.path().join("data/sluice.db")
    }

    /// POSTs a body with a content type; returns status and JSON reply.
    pub async fn post(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let json = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, json)
    }

    pub async fn ingest_ndjson(&self, lines: &[Value]) -> (u16, Value) {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        self.post("/api/v1/ingest", "application/x-ndjson", body).await
    }

    /// Waits until everything acknowledged is in the store.
    pub async fn flush(&self) {
        let response = self.client.post(self.url("/flush")).send().await.expect("flush");
        assert_eq!(response.status(), 200, "flush: {:?}", response.text().await);
    }

    /// GET returning status, `X-Total-Count` (if any) and JSON.
    pub async fn get(&self, path: &str) -> (u16, Option<u64>, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("get");
        let status = response.status().as_u16();
        let total = response.headers().get("x-total-count").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let json = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, total, json)
    }

    /// Every stored event (up to 1000), newest first.
    pub async fn logs(&self, query: &str) -> (Vec<Value>, u64) {
        let (status, total, json) = self.get(&format!("/api/v1/logs?limit=1000&{query}")).await;
        assert_eq!(status, 200, "logs: {json}");
        (json.as_array().cloned().unwrap_or_default(), total.expect("X-Total-Count"))
    }

    pub async fn dead_letters(&self) -> Vec<Value> {
        let (status, _, json) = self.get("/api/v1/dead-letters?limit=1000").await;
        assert_eq!(status, 200);
        json.as_array().cloned().unwrap_or_default()
    }

    pub async fn stats(&self) -> Value {
        self.get("/stats").await.2
    }
}

/// A live-tail websocket connection.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to the server's live tail with `query` (e.g. `?levels=error`).
pub async fn connect_tail(server: &TestServer, query: &str) -> Socket {
    let url = format!("{}/api/v1/tail{query}", server.base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.expect("connect").0
}

/// The next JSON text message on a tail connection, within 10 s.
pub async fn next_json(socket: &mut Socket) -> Value {
    use futures_util::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("stream open")
            .expect("message");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).expect("json message");
        }
    }
}

/// The real `sluice` binary as a child process, for tests that kill it.
pub struct ChildServer {
    pub child: Child,
    pub base: String,
}

impl ChildServer {
    pub async fn spawn(pipeline: &Path, data_dir: &Path) -> ChildServer {
        ChildServer::spawn_with(pipeline, data_dir, &[]).await
    }

    /// [`ChildServer::spawn`] with more arguments for `sluice run`.
    pub async fn spawn_with(pipeline: &Path, data_dir: &Path, args: &[&str]) -> ChildServer {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run"])
            .arg(pipeline)
            .args(["--http", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("SLUICE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sluice");
        let server = ChildServer { child, base: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(format!("{}/health", server.base)).send().await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("sluice did not come up on {}", server.base);
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bytes of a built-in guest, as embedded in the binary.
pub fn builtin(name: &str) -> Vec<u8> {
    sluice::wasm::builtin::get(name).unwrap_or_else(|| panic!("no built-in {name}")).to_vec()
}

/// Another version of a component: the same code with a custom section appended, so it has its
/// own content hash (and so its own identity) but behaves the same.
pub fn variant(component: &[u8], tag: &str) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"sluice-test-variant";
    let mut payload = Vec::new();
    leb128(name.len(), &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut out = component.to_vec();
    out.push(0); // custom section id
    leb128(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}

/// The stats of one version of `guest` in a `GET /api/v1/guests` reply.
pub fn version_stats(guests: &Value, guest: &str, version: &str) -> Value {
    guests["guests"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == guest))
        .and_then(|g| g["versions"].as_array())
        .and_then(|v| v.iter().find(|v| v["version"] == version))
        .map(|v| v["stats"].clone())
        .unwrap_or_else(|| panic!("no version {version} of {guest} in {guests}"))
}

/// What a stage runs, from a `GET /api/v1/guests` reply.
pub fn stage_status(guests: &Value, stage: &str) -> Value {
    guests["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stage"] == stage))
        .cloned()
        .unwrap_or_else(|| panic!("no stage {stage} in {guests}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}
