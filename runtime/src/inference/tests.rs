//! The service against a real OpenAI-compatible server (axum on a loopback port) whose handler
//! records what it is sent and answers as each test says.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::settings::{KEY_ENV, MODEL_ENV, URL_ENV};
use super::{Answer, RequestStatus, Service, Settings, start};
use crate::config::InferenceConfig;
use crate::telemetry::{InferenceCallLabel, InferenceRequestLabel, Metrics};

/// What the fake model does with a call.
#[derive(Clone)]
enum Reply {
    /// 200 with this message content.
    Content(String),
    /// This status and raw body.
    Raw(StatusCode, String),
    /// Waits for a permit of the server's gate, then answers with this content.
    Held(String),
    /// Sleeps this long, then answers.
    Slow(Duration),
}

/// A call as the server received it.
#[derive(Debug, Clone)]
struct Recorded {
    authorization: Option<String>,
    body: Value,
}

struct Model {
    reply: Box<dyn Fn(&Value) -> Reply + Send + Sync>,
    calls: Mutex<Vec<Recorded>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    gate: Semaphore,
}

/// Counts a call in flight until dropped (also when the client goes away mid-call).
struct InFlight<'a>(&'a Model);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn completions(State(model): State<Arc<Model>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let reply = (model.reply)(&body);
    model.calls.lock().unwrap_or_else(|p| p.into_inner()).push(Recorded { authorization, body });
    let now = model.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    model.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&model);
    let content = match reply {
        Reply::Content(content) => content,
        Reply::Raw(status, body) => return (status, body),
        Reply::Held(content) => {
            let _permit = model.gate.acquire().await.map(|p| p.forget());
            content
        }
        Reply::Slow(pause) => {
            tokio::time::sleep(pause).await;
            good_answer()
        }
    };
    let response = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    });
    (StatusCode::OK, response.to_string())
}

fn good_answer() -> String {
    json!({"summary": "Disk almost full", "severity": "high", "cause": "logs not rotated", "action": "rotate", "x": 1})
        .to_string()
}

struct Harness {
    model: Arc<Model>,
    url: String,
    metrics: Arc<Metrics>,
}

impl Harness {
    async fn new(reply: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> Harness {
        let model = Arc::new(Model {
            reply: Box::new(reply),
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            gate: Semaphore::new(0),
        });
        let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(model.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Harness { model, url: format!("http://{addr}/v1"), metrics: Arc::new(Metrics::new()) }
    }

    fn config(&self) -> InferenceConfig {
        InferenceConfig { url: Some(self.url.clone()), model: Some("test-model".into()), ..InferenceConfig::default() }
    }

    fn settings(&self, config: &InferenceConfig) -> Settings {
        Settings::resolve(config, |_| None).expect("valid settings").expect("enabled")
    }

    fn start(&self, settings: Settings) -> Service {
        start(Some(settings), &tokio::runtime::Handle::current(), self.metrics.clone()).expect("start")
    }

    fn calls(&self) -> Vec<Recorded> {
        self.model.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits (bounded) until the server has received `n` calls.
    async fn wait_calls(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.calls().len() < n {
            assert!(Instant::now() < deadline, "server got {} calls, expected {n}", self.calls().len());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn requests(&self, outcome: &'static str) -> u64 {
        self.metrics.inference_requests.get_or_create(&InferenceRequestLabel { outcome }).get()
    }

    fn call_results(&self, result: &'static str) -> u64 {
        self.metrics.inference_calls.get_or_create(&InferenceCallLabel { result }).get()
    }
}

/// Polls `lookup` until `key` is no longer pending (bounded).
async fn settled(service: &Service, key: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match service.inference().lookup(key) {
            Some(Answer::Pending) => {}
            Some(answer) => return answer,
            None => panic!("`{key}` is unknown to the service"),
        }
        assert!(Instant::now() < deadline, "`{key}` still pending");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn failed(answer: Answer) -> String {
    match answer {
        Answer::Failed(reason) => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn ready(answer: Answer) -> Value {
    match answer {
        Answer::Ready(text) => serde_json::from_str(&text).expect("ready answers are JSON"),
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_is_sent_as_configured_and_the_answer_normalised() {
    let h = Harness::new(|_| Reply::Content(good_answer())).await;
    let config = InferenceConfig { max_tokens: 123, temperature: 0.5, api_key_env: "MY_KEY".into(), ..h.config() };
    let settings = Settings::resolve(&config, |name| (name == "MY_KEY").then(|| "sk-test".to_string()))
        .expect("valid")
        .expect("enabled");
    let service = h.start(settings);
    let inference = service.inference();
    assert_eq!(inference.lookup("p1"), None);
    assert_eq!(inference.request("p1", "You are an SRE.", "Pattern: disk <*> full"), RequestStatus::Queued);
    let answer = ready(settled(&service, "p1").await);
    assert_eq!(
        answer,
        json!({"summary": "Disk almost full", "severity": "high", "cause": "logs not rotated", "action": "rotate",
               "model": "served-model"})
    );
    let calls = h.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(
        calls[0].body,
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "You are an SRE."},
                {"role": "user", "content": "Pattern: disk <*> full"},
            ],
            "temperature": 0.5,
            "max_tokens": 123,
            "response_format": {"type": "json_object"},
        })
    );
    assert_eq!((h.requests("queued"), h.call_results("ok")), (1, 1));
    assert!(h.metrics.encode().contains("sluice_inference_call_seconds_count 1"), "{}", h.metrics.encode());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_no_authorization_header() {
    let h = Harness::new(|_| Reply::Content(good_answer())).await;
    let service = h.start(h.settings(&h.config()));
    assert_eq!(service.inference().request("p", "s", "u"), RequestStatus::Queued);
    ready(settled(&service, "p").await);
    assert_eq!(h.calls()[0].authorization, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_per_key_however_many_requests() {
    let h = Harness::new(|_| Reply::Held(good_answer())).await;
    let service = h.start(h.settings(&h.config()));
    let inference = service.inference();
    assert_eq!(inference.request("a", "s", "u"), RequestStatus::Queued);
    // Queued or in flight: known.
    assert_eq!(inference.request("a", "s", "u"), RequestStatus::Known);
    assert_eq!(inference.lookup("a"), Some(Answer::Pending));
    h.wait_calls(1).await;
    assert_eq!(inference.request("a", "other", "prompt"), RequestStatus::Known);
    h.model.gate.add_permits(1);
    ready(settled(&service, "a").await);
    // Answered: still known, nothing sent.
    assert_eq!(inference.request("a", "s", "u"), RequestStatus::Known);
    assert_eq!(inference.request("b", "s", "u"), RequestStatus::Queued);
    h.model.gate.add_permits(1);
    ready(settled(&service, "b").await);
    let keys: Vec<Value> = h.calls().iter().map(|c| c.body["messages"][1]["content"].clone()).collect();
    assert_eq!(keys, [json!("u"), json!("u")], "one call for `a`, one for `b`");
    assert_eq!((h.requests("queued"), h.requests("known")), (2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_calls_are_respected() {
    let h = Harness::new(|_| Reply::Held(good_answer())).await;
    let service = h.start(h.settings(&InferenceConfig { max_concurrent: 2, ..h.config() }));
    let inference = service.inference();
    for key in ["k1", "k2", "k3", "k4", "k5"] {
        assert_eq!(inference.request(key, "s", key), RequestStatus::Queued);
    }
    h.wait_calls(2).await;
    assert_eq!(h.model.in_flight.load(Ordering::SeqCst), 2);
    // Two held: the other three wait in the queue, so the server cannot see a third.
    h.model.gate.add_permits(5);
    for key in ["k1", "k2", "k3", "k4", "k5"] {
        ready(settled(&service, key).await);
    }
    assert_eq!(h.calls().len(), 5);
    assert_eq!(h.model.most_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_runs_out_and_refusals_do_not_count() {
    let h = Harness::new(|_| Reply::Content(good_answer())).await;
    let service = h.start(h.settings(&InferenceConfig { budget_per_hour: 3, ..h.config() }));
    let inference = service.inference();
    for key in ["a", "b", "c"] {
        assert_eq!(inference.request(key, "s", "u"), RequestStatus::Queued);
    }
    for _ in 0..5 {
        assert_eq!(inference.request("d", "s", "u"), RequestStatus::OverBudget);
    }
    // A known key is answered `known`, budget or not.
    assert_eq!(inference.request("a", "s", "u"), RequestStatus::Known);
    assert_eq!(inference.lookup("d"), None);
    for key in ["a", "b", "c"] {
        ready(settled(&service, key).await);
    }
    assert_eq!(h.calls().len(), 3);
    assert_eq!(h.requests("over_budget"), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_model_times_out() {
    let h = Harness::new(|_| Reply::Slow(Duration::from_secs(5))).await;
    let service = h.start(h.settings(&InferenceConfig { timeout: Duration::from_millis(200), ..h.config() }));
    assert_eq!(service.inference().request("slow", "s", "u"), RequestStatus::Queued);
    assert_eq!(failed(settled(&service, "slow").await), "timed out after 200ms");
    assert_eq!((h.call_results("timeout"), h.call_results("failed")), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_carry_the_status_and_the_start_of_the_body() {
    let long = format!("model exploded {}", "x".repeat(500));
    let body = long.clone();
    let h = Harness::new(move |_| Reply::Raw(StatusCode::INTERNAL_SERVER_ERROR, body.clone())).await;
    let service = h.start(h.settings(&h.config()));
    assert_eq!(service.inference().request("e", "s", "u"), RequestStatus::Queued);
    let reason = failed(settled(&service, "e").await);
    assert_eq!(reason, format!("HTTP 500: {}...", &long[..200]));
    assert_eq!(h.call_results("failed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_answers_fail_and_fenced_ones_are_read() {
    let h = Harness::new(|body| match body["messages"][1]["content"].as_str() {
        Some("prose") => Reply::Content("The disk is full, rotate the logs.".into()),
        Some("fenced") => Reply::Content(format!("```json\n{}\n```", good_answer())),
        Some("no-summary") => Reply::Content(r#"{"severity":"low"}"#.into()),
        _ => Reply::Raw(StatusCode::OK, "not json at all".into()),
    })
    .await;
    let service = h.start(h.settings(&h.config()));
    let inference = service.inference();
    for key in ["prose", "fenced", "no-summary", "garbage"] {
        assert_eq!(inference.request(key, "s", key), RequestStatus::Queued);
    }
    assert_eq!(
        failed(settled(&service, "prose").await),
        "answer is not a JSON object: The disk is full, rotate the logs."
    );
    assert_eq!(ready(settled(&service, "fenced").await)["summary"], "Disk almost full");
    assert!(failed(settled(&service, "no-summary").await).contains("no string `summary`"));
    assert!(failed(settled(&service, "garbage").await).starts_with("response is not JSON"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_busy() {
    let h = Harness::new(|_| Reply::Held(good_answer())).await;
    let service = h.start(h.settings(&InferenceConfig { max_concurrent: 1, max_queued: 2, ..h.config() }));
    let inference = service.inference();
    assert_eq!(inference.request("first", "s", "u"), RequestStatus::Queued);
    h.wait_calls(1).await;
    // `first` is in flight, so the queue holds two more.
    assert_eq!(inference.request("second", "s", "u"), RequestStatus::Queued);
    assert_eq!(inference.request("third", "s", "u"), RequestStatus::Queued);
    assert_eq!(inference.request("fourth", "s", "u"), RequestStatus::Busy);
    assert_eq!(inference.lookup("fourth"), None, "a busy request leaves no trace");
    h.model.gate.add_permits(3);
    for key in ["first", "second", "third"] {
        ready(settled(&service, key).await);
    }
    assert_eq!(inference.request("fourth", "s", "u"), RequestStatus::Queued);
    h.model.gate.add_permits(1);
    ready(settled(&service, "fourth").await);
    assert_eq!(h.requests("busy"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_named() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let config = InferenceConfig {
        url: Some(format!("http://{addr}/v1")),
        model: Some("m".into()),
        ..InferenceConfig::default()
    };
    let settings = Settings::resolve(&config, |_| None).expect("valid").expect("enabled");
    let service = start(Some(settings), &tokio::runtime::Handle::current(), Arc::new(Metrics::new())).expect("start");
    assert_eq!(service.inference().request("k", "s", "u"), RequestStatus::Queued);
    let reason = failed(settled(&service, "k").await);
    assert!(reason.starts_with(&format!("cannot connect to http://{addr}/v1/chat/completions: ")), "{reason}");
    assert!(reason.to_lowercase().contains("connection refused"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_key_is_known_until_its_back_off_has_passed() {
    let h = Harness::new(|_| Reply::Raw(StatusCode::TOO_MANY_REQUESTS, "slow down".into())).await;
    let service = h.start(h.settings(&h.config()));
    assert_eq!(service.inference().request("k", "s", "u"), RequestStatus::Queued);
    assert_eq!(failed(settled(&service, "k").await), "HTTP 429: slow down");
    assert_eq!(service.inference().request("k", "s", "u"), RequestStatus::Known, "within the back-off");

    let retrying = h.start(Settings { retry_failed_after: Duration::ZERO, ..h.settings(&h.config()) });
    assert_eq!(retrying.inference().request("k", "s", "u"), RequestStatus::Queued);
    failed(settled(&retrying, "k").await);
    assert_eq!(retrying.inference().request("k", "s", "u"), RequestStatus::Queued, "back-off passed");
    failed(settled(&retrying, "k").await);
    assert_eq!(h.calls().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_url_inference_is_disabled() {
    let settings = Settings::resolve(&InferenceConfig::default(), |_| None).expect("valid");
    assert!(settings.is_none());
    let service = start(settings, &tokio::runtime::Handle::current(), Arc::new(Metrics::new())).expect("start");
    assert_eq!(service.inference().request("k", "s", "u"), RequestStatus::Disabled);
    assert_eq!(service.inference().lookup("k"), None);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_the_workers_and_refuses_new_requests() {
    let h = Harness::new(|_| Reply::Held(good_answer())).await;
    let service = h.start(h.settings(&h.config()));
    let inference = service.inference();
    assert_eq!(inference.request("k", "s", "u"), RequestStatus::Queued);
    h.wait_calls(1).await;
    // A worker is blocked in a call that will never be answered: shutdown must still end it.
    tokio::time::timeout(Duration::from_secs(10), service.shutdown()).await.expect("workers end");
    assert_eq!(inference.request("other", "s", "u"), RequestStatus::Disabled);
    assert_eq!(inference.lookup("k"), Some(Answer::Pending));
}

#[test]
fn the_environment_wins_over_the_file() {
    let file = InferenceConfig {
        url: Some("http://file:1/v1".into()),
        model: Some("file-model".into()),
        api_key_env: "FILE_KEY".into(),
        ..InferenceConfig::default()
    };
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    };
    let s = Settings::resolve(&file, env(&[("FILE_KEY", "k1")])).expect("valid").expect("enabled");
    assert_eq!((s.endpoint.as_str(), s.model.as_str()), ("http://file:1/v1/chat/completions", "file-model"));
    assert_eq!(s.api_key.as_deref(), Some("k1"));
    assert!(!format!("{s:?}").contains("k1"), "the key stays out of Debug");
    let s = Settings::resolve(
        &file,
        env(&[(URL_ENV, "https://env:2/v1/"), (MODEL_ENV, "env-model"), (KEY_ENV, "k2"), ("FILE_KEY", "k1")]),
    )
    .expect("valid")
    .expect("enabled");
    assert_eq!((s.endpoint.as_str(), s.model.as_str()), ("https://env:2/v1/chat/completions", "env-model"));
    assert_eq!(s.api_key.as_deref(), Some("k2"));
    // The environment alone can enable inference.
    let s = Settings::resolve(&InferenceConfig::default(), env(&[(URL_ENV, "http://env:2/v1"), (MODEL_ENV, "m")]))
        .expect("valid");
    assert!(s.is_some());
    let err =
        Settings::resolve(&InferenceConfig::default(), env(&[(URL_ENV, "http://env:2/v1")])).expect_err("no model");
    assert!(err.to_string().contains("no model"), "{err}");
    let err = Settings::resolve(&file, env(&[(URL_ENV, "ftp://x")])).expect_err("bad url");
    assert!(err.to_string().contains(URL_ENV), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_go_through_tls() {
    // A plain-HTTP server addressed as https: the call must fail in the TLS handshake, which shows
    // TLS is built in (a build without it refuses the scheme before connecting).
    let h = Harness::new(|_| Reply::Content(good_answer())).await;
    let url = h.url.replace("http://", "https://");
    let service = h.start(h.settings(&InferenceConfig { url: Some(url.clone()), ..h.config() }));
    assert_eq!(service.inference().request("k", "s", "u"), RequestStatus::Queued);
    let reason = failed(settled(&service, "k").await);
    assert!(reason.starts_with(&format!("cannot connect to {url}/chat/completions: ")), "{reason}");
    assert!(!reason.contains("scheme"), "{reason}");
    assert!(h.calls().is_empty(), "no HTTP request reached the server");
}
