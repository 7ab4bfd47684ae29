//! Seed 003's per-session live streams: a late subscriber first gets the session's recent lines
//! (bounded, oldest dropped first), then its live ones; other sessions never show; many clients
//! can follow one session, over server-sent events or the websocket tail.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestServer, connect_tail, next_json};

const PIPELINE: &str = "
inputs:
  - http: {}
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {}
  - websocket:
      sessions: {max_messages: 3, ttl: 10m}
";

/// An open `text/event-stream` response, read one event at a time.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    async fn open(server: &TestServer, session: &str) -> Sse {
        let response =
            server.client.get(server.url(&format!("/api/v1/sessions/{session}/stream"))).send().await.expect("sse");
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/event-stream")),
            "{:?}",
            response.headers()
        );
        Sse { response, buffer: String::new() }
    }

    /// The next event's name and JSON data (keep-alive comments are skipped), within 10 s.
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if name.is_empty() {
                    continue;
                }
                return (name, serde_json::from_str(&data).expect("json data"));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .expect("stream")
                .expect("stream open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn next_message(&mut self) -> String {
        let (name, data) = self.next().await;
        assert_eq!(name, "logs", "{data}");
        data["message"].as_str().expect("message").to_string()
    }
}

fn line(session: &str, message: &str) -> Value {
    json!({ "message": message, "session_id": session })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_subscriber_gets_recent_lines_then_live_ones() {
    let server = TestServer::start(PIPELINE).await;
    let mut lines: Vec<Value> = (1..=5).map(|i| line("s1", &format!("s1 line {i}"))).collect();
    lines.push(line("s2", "s2 line 1"));
    assert_eq!(server.ingest_ndjson(&lines).await.0, 202);
    server.flush().await;

    let mut first = Sse::open(&server, "s1").await;
    for expected in ["s1 line 3", "s1 line 4", "s1 line 5"] {
        assert_eq!(first.next_message().await, expected, "the last 3 buffered, oldest first");
    }
    let mut second = Sse::open(&server, "s1").await;
    for expected in ["s1 line 3", "s1 line 4", "s1 line 5"] {
        assert_eq!(second.next_message().await, expected);
    }
    let mut tail = connect_tail(&server, "?session=s1").await;
    for expected in ["s1 line 3", "s1 line 4", "s1 line 5"] {
        assert_eq!(next_json(&mut tail).await["payload"]["message"], expected, "the tail replays too");
    }

    assert_eq!(server.ingest_ndjson(&[line("s2", "s2 line 2"), line("s1", "s1 line 6")]).await.0, 202);
    assert_eq!(first.next_message().await, "s1 line 6", "live, and no other session's lines");
    assert_eq!(second.next_message().await, "s1 line 6", "many clients on one session");
    let live = next_json(&mut tail).await;
    assert_eq!(live["payload"]["message"], "s1 line 6");
    assert_eq!(live["payload"]["session_id"], "s1");

    let mut other = Sse::open(&server, "s2").await;
    assert_eq!(other.next_message().await, "s2 line 1");
    assert_eq!(other.next_message().await, "s2 line 2");
    let (status, _, reply) = server.get(&format!("/api/v1/sessions/{}/stream", "x".repeat(300))).await;
    assert_eq!(status, 400, "{reply}");
}
