//! Bad input gets the documented status and a JSON error naming the problem, and a refused
//! request stores nothing.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::TestServer;

const LIMITED: &str = "
inputs:
  - http:
      max_body_bytes: 2048
      max_events_per_request: 3
      max_concurrent_requests: 1
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {}
";

fn error(reply: &Value) -> (&str, &str) {
    (reply["error"]["code"].as_str().unwrap_or(""), reply["error"]["message"].as_str().unwrap_or(""))
}

async fn assert_nothing_stored(server: &TestServer) {
    server.flush().await;
    let (_, total) = server.logs("").await;
    assert_eq!(total, 0, "a refused request must store nothing");
    assert_eq!(server.stats().await["received"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_input_is_refused_precisely() {
    let server = TestServer::start(LIMITED).await;

    let (status, reply) =
        server.post("/api/v1/ingest", "application/x-ndjson", "{\"message\":\"ok\"}\n{\"message\": oops}\n").await;
    assert_eq!(status, 400);
    assert_eq!(error(&reply).0, "malformed_json");
    assert_eq!(reply["error"]["line"], 2, "{reply}");

    let (status, reply) = server.post("/ingest", "application/json", r#"{"message": 42}"#).await;
    assert_eq!(status, 400);
    assert_eq!(error(&reply), ("wrong_type", "field `message` must be a string, found a number"));

    let (status, reply) =
        server.post("/ingest/batch", "application/json", r#"{"logs": [{"message": "a"}, {"level": "info"}]}"#).await;
    assert_eq!(status, 400);
    assert_eq!(error(&reply), ("missing_field", "missing field `logs[1].message`"));

    let (status, reply) = server.post("/log", "application/json", r#"{"session_id": [1], "event_type": "x"}"#).await;
    assert_eq!((status, error(&reply).0), (400, "wrong_type"));

    let (status, reply) =
        server.post("/api/v1/ingest", "application/x-ndjson", b"{\"message\":\"caf\xe9\"}\n".to_vec()).await;
    assert_eq!((status, error(&reply).0), (400, "invalid_utf8"), "{reply}");
    assert!(error(&reply).1.contains("offset 15"), "{reply}");

    let big = format!("{{\"message\":\"{}\"}}", "x".repeat(4096));
    let (status, reply) = server.post("/api/v1/ingest", "application/x-ndjson", big).await;
    assert_eq!((status, error(&reply).0), (413, "body_too_large"), "{reply}");

    let (status, reply) = server.post("/api/v1/ingest", "application/x-ndjson", "\"a\"\n\"b\"\n\"c\"\n\"d\"\n").await;
    assert_eq!((status, error(&reply).0), (413, "too_many_events"), "{reply}");

    let (status, reply) = server.post("/api/v1/ingest", "application/x-ndjson", "\n  \n").await;
    assert_eq!((status, error(&reply).0), (400, "empty_body"));

    let (status, _, reply) = server.get("/api/v1/no-such-thing").await;
    assert_eq!((status, error(&reply).0), (404, "not_found"));

    assert_nothing_stored(&server).await;
    let stats = server.stats().await;
    assert_eq!(stats["rejected_requests"], 8, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_concurrent_requests_get_429() {
    let server = TestServer::start(LIMITED).await;
    // Hold the only ingest slot with a request whose body never finishes arriving.
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut held = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!("POST /api/v1/ingest HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000\r\n\r\n{{\"message\":");
    tokio::io::AsyncWriteExt::write_all(&mut held, head.as_bytes()).await.expect("write");
    let mut refused = None;
    for _ in 0..100 {
        let (status, reply) = server.post("/ingest", "application/json", r#"{"message":"x"}"#).await;
        if status == 429 {
            refused = Some(reply);
            break;
        }
        assert_eq!(status, 200, "only 200 (slot not yet taken) or 429 is possible: {reply}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = refused.expect("a second concurrent request must get 429");
    assert_eq!(error(&reply).0, "too_many_requests");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_far_behind_pushes_back_with_503() {
    // A stage that stalls for its whole deadline keeps the store behind the journal.
    let yaml = format!(
        "inputs: [{{http: {{}}}}]\nstages:\n  - name: slow\n    guest: {}\n    config: {{trigger: stall-me, mode: loop}}\n    limits: {{deadline: 3s}}\noutputs: [{{libsql: {{}}}}]\njournal:\n  max_pending_mib: 1\n",
        crate::helpers::fixture("hostile").display()
    );
    let server = TestServer::start(&yaml).await;
    let filler = "y".repeat(1000);
    let mut body = String::from("\"stall-me\"\n");
    for i in 0..1500 {
        body.push_str(&format!("\"{i} {filler}\"\n"));
    }
    let (status, _) = server.post("/api/v1/ingest", "application/x-ndjson", body).await;
    assert_eq!(status, 202, "the journal takes a burst");
    let (status, reply) = server.post("/api/v1/ingest", "application/x-ndjson", "\"one more\"\n").await;
    assert_eq!((status, error(&reply).0), (503, "overloaded"), "{reply}");
    server.flush().await;
    let (status, _) = server.post("/api/v1/ingest", "application/x-ndjson", "\"one more\"\n").await;
    assert_eq!(status, 202, "accepted again once the store caught up");
}
