//! The AMQP input against the machine's real RabbitMQ: seed 002's audit queue into PostgreSQL,
//! seed 003's topic exchange into per-session live streams, hostile messages, and `kill -9`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};

use crate::helpers::{ChildServer, TestServer};
use crate::pg::{SERVER, TestDb};

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A publishing channel with confirms on.
pub async fn publisher() -> (Connection, Channel) {
    let connection = Connection::connect(URL, ConnectionProperties::default()).await.expect("connect to RabbitMQ");
    let channel = connection.create_channel().await.expect("channel");
    channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    (connection, channel)
}

/// Publishes `body` to `exchange` (empty: the default exchange, `key` is then the queue) and
/// waits for the broker's confirm.
pub async fn publish(channel: &Channel, exchange: &str, key: &str, body: &[u8], message_id: Option<String>) {
    let mut properties = BasicProperties::default().with_delivery_mode(2);
    if let Some(id) = message_id {
        properties = properties.with_message_id(id.into());
    }
    channel
        .basic_publish(exchange.into(), key.into(), BasicPublishOptions::default(), body, properties)
        .await
        .expect("publish")
        .await
        .expect("confirm");
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Declares the queue (and its binding) the way the input does, so messages published before the
/// input has connected wait in it rather than being unroutable.
pub async fn declare(channel: &Channel, queue: &str, bind: Option<(&str, &str)>) {
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.into(), durable, FieldTable::default()).await.expect("declare queue");
    if let Some((exchange, key)) = bind {
        let options = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        channel
            .exchange_declare(exchange.into(), ExchangeKind::Topic, options, FieldTable::default())
            .await
            .expect("declare exchange");
        channel
            .queue_bind(queue.into(), exchange.into(), key.into(), QueueBindOptions::default(), FieldTable::default())
            .await
            .expect("bind");
    }
}

pub async fn delete_queue(channel: &Channel, queue: &str) {
    let _ = channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await;
}

/// Polls the stored events until `want` are there (or 30 s pass).
async fn wait_stored(server: &TestServer, want: u64) -> (Vec<Value>, u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (rows, total) = server.logs("").await;
        if total >= want || Instant::now() > deadline {
            return (rows, total);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn seed_002_audit_events_reach_postgres() {
    let _shared = SERVER.read().await;
    let db = TestDb::create().await;
    let queue = unique("log_queue");
    let yaml = format!(
        "
inputs:
  - amqp:
      url: {URL}
      queue: {queue}
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {{}}
  - postgres:
      url: {}
      tables: [log_events]
",
        db.url
    );
    let _server = TestServer::start(&yaml).await;
    let (_connection, channel) = publisher().await;
    declare(&channel, &queue, None).await;
    for i in 0..50 {
        let event = json!({
            "session_id": 100 + i % 5,
            "event_type": if i % 2 == 0 { "review_started" } else { "llm_query_sent" },
            "payload": {"code_language": "python", "file_count": i},
        });
        publish(&channel, "", &queue, event.to_string().as_bytes(), None).await;
    }
    let n = db.wait_count("SELECT count(*) FROM log_events", 50, Duration::from_secs(30)).await;
    assert_eq!(n, 50);
    assert_eq!(
        db.count("SELECT count(*) FROM log_events WHERE event_type = 'review_started' AND session_id = '100'").await,
        5
    );
    assert_eq!(db.count("SELECT count(*) FROM log_events WHERE payload->>'code_language' = 'python'").await, 50);
    delete_queue(&channel, &queue).await;
}

#[tokio::test]
async fn seed_003_topic_exchange_feeds_session_streams() {
    let exchange = unique("manman");
    let queue = unique("sluice_sessions");
    let yaml = format!(
        "
inputs:
  - amqp:
      url: {URL}
      queue: {queue}
      exchange: {exchange}
      routing_keys: ['logs.session.*']
      session_key_prefix: logs.session.
stages:
  - name: normalize
    guest: normalize
outputs:
  - websocket:
      sessions: {{ max_messages: 100, ttl: 3m }}
"
    );
    let server = TestServer::start(&yaml).await;
    let (_connection, channel) = publisher().await;
    declare(&channel, &queue, Some((&exchange, "logs.session.*"))).await;
    // Before anyone listens: kept in the session's ring for late subscribers.
    for i in 0..3 {
        publish(&channel, &exchange, "logs.session.s42", format!("server line {i}").as_bytes(), None).await;
    }
    publish(&channel, &exchange, "logs.session.other", b"not for s42", None).await;
    publish(&channel, &exchange, "metrics.cpu", b"not bound", None).await;

    let response = server.client.get(server.url("/api/v1/sessions/s42/stream")).send().await.expect("subscribe");
    assert_eq!(response.status(), 200);
    let mut response = response;
    let mut seen = Vec::new();
    let mut buffer = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut published_live = false;
    while seen.len() < 4 && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await;
        if let Ok(Ok(Some(bytes))) = chunk {
            buffer.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                for data in frame.lines().filter_map(|l| l.strip_prefix("data:")) {
                    if let Ok(event) = serde_json::from_str::<Value>(data.trim()) {
                        seen.push(event["message"].as_str().unwrap_or_default().to_string());
                    }
                }
            }
        }
        if seen.len() >= 3 && !published_live {
            published_live = true;
            publish(&channel, &exchange, "logs.session.s42", b"live line", None).await;
        }
    }
    assert_eq!(seen, ["server line 0", "server line 1", "server line 2", "live line"]);
    delete_queue(&channel, &queue).await;
}

#[tokio::test]
async fn hostile_messages_are_dead_lettered_and_the_input_keeps_going() {
    let queue = unique("hostile");
    let yaml = format!(
        "
inputs:
  - amqp:
      url: {URL}
      queue: {queue}
      max_message_bytes: 1048576
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {{}}
"
    );
    let server = TestServer::start(&yaml).await;
    let (_connection, channel) = publisher().await;
    declare(&channel, &queue, None).await;
    publish(&channel, "", &queue, b"\xff\xfe not utf-8", None).await;
    publish(&channel, "", &queue, &vec![b'x'; 10 * 1024 * 1024], None).await;
    publish(&channel, "", &queue, br#"{"level":"warn","message":"still here"}"#, None).await;

    let (rows, total) = wait_stored(&server, 1).await;
    assert_eq!(total, 1, "{rows:?}");
    assert_eq!(rows[0]["message"], "still here");
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let dead = server.dead_letters().await;
        if dead.len() >= 2 || Instant::now() > deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reasons: Vec<&str> = dead.iter().filter_map(|d| d["reason"].as_str()).collect();
    assert_eq!(dead.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("invalid UTF-8: at byte 0")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("10485760 bytes exceeds max_message_bytes 1048576")), "{reasons:?}");
    delete_queue(&channel, &queue).await;
}

#[tokio::test]
async fn kill_9_mid_run_stores_every_message_once() {
    let queue = unique("crash");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pipeline.yaml");
    let yaml = format!(
        "
inputs:
  - amqp:
      url: {URL}
      queue: {queue}
      prefetch: 64
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {{}}
"
    );
    std::fs::write(&path, yaml).expect("write pipeline");
    let data = dir.path().join("data");
    let (_connection, channel) = publisher().await;
    declare(&channel, &queue, None).await;

    let mut child = ChildServer::spawn(&path, &data).await;
    let total = 3000;
    let mut sent = HashSet::new();
    for i in 0..total {
        let id = format!("m-{i}");
        let body = json!({"message": format!("order {i} shipped"), "level": "info"});
        publish(&channel, "", &queue, body.to_string().as_bytes(), Some(id.clone())).await;
        sent.insert(id);
        if i == total / 2 {
            child.kill9();
        }
    }
    let child = ChildServer::spawn(&path, &data).await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let response = client.get(format!("{}/api/v1/logs?limit=1", child.base)).send().await.expect("logs");
        let count: u64 = response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if count >= total as u64 || Instant::now() > deadline {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Let any duplicate that would arrive arrive, then count again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let response = client.get(format!("{}/api/v1/logs?limit=1", child.base)).send().await.expect("logs");
    let after: u64 =
        response.headers().get("x-total-count").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    assert_eq!((stored, after), (total as u64, total as u64), "every message stored exactly once");
    assert_eq!(sent.len(), total);
    delete_queue(&channel, &queue).await;
}

#[tokio::test]
async fn a_reload_restarts_a_changed_input_and_keeps_the_postgres_output_without_losing_a_message() {
    let _shared = SERVER.read().await;
    let db = TestDb::create().await;
    let queue = unique("reload");
    let pipeline = |prefetch: u32, stages: &str| {
        format!(
            "
inputs:
  - amqp:
      url: {URL}
      queue: {queue}
      prefetch: {prefetch}
stages:{stages}
outputs:
  - libsql: {{}}
  - postgres:
      url: {}
",
            db.url
        )
    };
    let server = TestServer::start(&pipeline(16, " []")).await;
    let (_connection, channel) = publisher().await;
    declare(&channel, &queue, None).await;
    let sender = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let (_connection, channel) = publisher().await;
            for i in 0..600 {
                let body = json!({"message": format!("tick {i}")}).to_string();
                publish(&channel, "", &queue, body.as_bytes(), Some(format!("t-{i}"))).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(server.pipeline_path(), pipeline(32, "\n  - name: normalize\n    guest: normalize"))
        .expect("rewrite");
    let (status, reply) = server.send_json(reqwest::Method::POST, "/api/v1/reload", None).await;
    assert_eq!(status, 200, "{reply}");
    sender.await.expect("sender");
    let n = db.wait_count("SELECT count(*) FROM logs", 600, Duration::from_secs(30)).await;
    assert_eq!(n, 600, "every message once in PostgreSQL");
    let (_, total) = wait_stored(&server, 600).await;
    assert_eq!(total, 600, "every message once in the store");
    // The unchanged PostgreSQL output kept its task and pool (whichever trigger, the file watcher
    // or the API, applied the new file first; the other then finds the input unchanged).
    assert_eq!(reply["changes"]["outputs_kept"], json!(["postgres"]), "{reply}");
    let input_seen = ["inputs_changed", "inputs_kept"]
        .iter()
        .any(|k| reply["changes"][k].as_array().is_some_and(|a| a.contains(&json!("amqp"))));
    assert!(input_seen, "{reply}");
    delete_queue(&channel, &queue).await;
}
