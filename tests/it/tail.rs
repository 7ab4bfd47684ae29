//! The websocket live tail: server-side filters, and a slow client that skips ahead, is told how
//! much it missed, and never holds the pipeline back.

use serde_json::{Value, json};

use crate::helpers::{TestServer, connect_tail as connect, next_json};

const PIPELINE: &str = "
inputs:
  - http: {}
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {}
  - websocket:
      buffer_batches: 2
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_streams_filtered_events() {
    let server = TestServer::start(PIPELINE).await;
    let mut errors = connect(&server, "?levels=error,critical&source=api").await;
    let mut everything = connect(&server, "").await;
    server
        .ingest_ndjson(&[
            json!({"message": "fine", "level": "info", "source": "api"}),
            json!({"message": "broken elsewhere", "level": "error", "source": "db"}),
            json!({"message": "broken here", "level": "error", "source": "api"}),
        ])
        .await;
    let first = next_json(&mut errors).await;
    assert_eq!(first["topic"], "logs");
    assert_eq!(first["payload"]["message"], "broken here", "filters apply server-side: {first}");
    assert_eq!(first["payload"]["level"], "ERROR");
    let all: Vec<Value> =
        vec![next_json(&mut everything).await, next_json(&mut everything).await, next_json(&mut everything).await];
    let messages: Vec<&str> = all.iter().filter_map(|m| m["payload"]["message"].as_str()).collect();
    assert_eq!(messages, ["fine", "broken elsewhere", "broken here"]);

    let (status, _, error) = server.get("/api/v1/tail?levels=loud").await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("bad_query")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_skips_ahead_and_is_told_how_much() {
    let server = TestServer::start(PIPELINE).await;
    let mut slow = connect(&server, "").await;
    // The client reads nothing while many batches go by; the pipeline must not wait for it.
    let filler = "x".repeat(400);
    let mut sent = 0u64;
    for request in 0..40 {
        let lines: Vec<Value> = (0..500).map(|i| json!({"message": format!("{request}-{i} {filler}")})).collect();
        assert_eq!(server.ingest_ndjson(&lines).await.0, 202);
        server.flush().await;
        sent += 500;
    }
    let (_, stored, _) = server.get("/api/v1/logs?limit=1").await;
    assert_eq!(stored, Some(sent), "every event was stored while the client stalled");

    // Now drain: events received plus events reported missed must account for all of them.
    let (mut received, mut missed) = (0u64, 0u64);
    while received + missed < sent {
        let message = next_json(&mut slow).await;
        match message["topic"].as_str() {
            Some("logs") => received += 1,
            Some("lagged") => missed += message["payload"]["missed"].as_u64().expect("missed count"),
            other => panic!("unexpected topic {other:?}"),
        }
    }
    assert_eq!(received + missed, sent);
    assert!(missed > 0, "a client this slow must have skipped ahead");
}
