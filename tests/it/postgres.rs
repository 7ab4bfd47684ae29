//! The PostgreSQL output against the machine's real server: rows in every table, exactly once,
//! through an outage and a `kill -9`.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ChildServer, TestServer};
use crate::pg::{SERVER, TestDb, cluster};

fn pipeline(db: &TestDb) -> String {
    format!(
        "
inputs:
  - http: {{}}
stages:
  - name: normalize
    guest: normalize
  - name: mine
    guest: mine
outputs:
  - libsql: {{}}
  - postgres:
      url: {}
      pool: {{ min: 1, max: 4 }}
      tables: [logs, aggregated_logs, log_events]
",
        db.url
    )
}

fn line(i: usize) -> Value {
    let kinds =
        ["User {} logged in from 10.0.0.{}", "Payment {} failed after {} ms", "Cache miss for key k{} shard {}"];
    let template = kinds[i % kinds.len()];
    let message = template.replacen("{}", &i.to_string(), 1).replacen("{}", &(i % 7).to_string(), 1);
    json!({
        "timestamp": "2026-11-30T12:00:00Z",
        "level": if i % 3 == 1 { "error" } else { "info" },
        "service": "billing",
        "message": message,
        "session_id": format!("s{}", i % 4),
        "event_type": "user_action",
        "payload": {"n": i, "nul": "a\u{0}b"},
    })
}

/// Sends lines through `/ingest/batch` and returns the ids the server acknowledged.
async fn send(base: &str, client: &reqwest::Client, from: usize, to: usize) -> Vec<String> {
    let lines: Vec<Value> = (from..to).map(line).collect();
    let response =
        client.post(format!("{base}/ingest/batch")).json(&json!({"logs": lines})).send().await.expect("ingest");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["ids"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()).collect()
}

async fn stored_ids(db: &TestDb) -> Vec<String> {
    let pool = db.pool().await;
    let ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM logs").fetch_all(&pool).await.expect("ids");
    pool.close().await;
    ids
}

#[tokio::test]
async fn events_land_in_every_table_once() {
    let _shared = SERVER.read().await;
    let db = TestDb::create().await;
    let server = TestServer::start(&pipeline(&db)).await;
    let acked = send(&server.base, &server.client, 0, 300).await;
    server.flush().await;

    let ids = stored_ids(&db).await;
    assert_eq!(ids.len(), 300);
    assert_eq!(ids.iter().collect::<HashSet<_>>(), acked.iter().collect::<HashSet<_>>());
    // Attributes and payloads are JSONB; NUL is made safe rather than failing the batch.
    assert_eq!(db.count("SELECT count(*) FROM logs WHERE attributes->>'n' = '7'").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM logs WHERE level = 'ERROR' AND source = 'billing'").await, 100);
    assert_eq!(
        db.count("SELECT count(*) FROM log_events WHERE event_type = 'user_action' AND session_id = 's1'").await,
        75
    );
    // Seed 001's aggregates: three patterns, counts summing to every event.
    assert_eq!(db.count("SELECT count(*) FROM aggregated_logs").await, 3);
    assert_eq!(db.count("SELECT sum(count)::bigint FROM aggregated_logs").await, 300);
    assert_eq!(
        db.count("SELECT count(*) FROM aggregated_logs WHERE jsonb_array_length(sample_messages) BETWEEN 1 AND 5")
            .await,
        3
    );
    let stats = server.stats().await;
    assert_eq!(stats["outputs"]["postgres"]["pending_bytes"], 0, "{stats}");
}

#[tokio::test]
async fn an_outage_loses_nothing_and_counts_once() {
    // Stops the shared server: runs alone.
    let _alone = SERVER.write().await;
    let db = TestDb::create().await;
    let server = TestServer::start(&pipeline(&db)).await;
    let mut acked = send(&server.base, &server.client, 0, 200).await;
    server.flush().await;
    assert_eq!(db.count("SELECT count(*) FROM logs").await, 200);

    cluster("stop");
    // Acknowledged while the database is down: on disk in the journal, waiting.
    acked.extend(send(&server.base, &server.client, 200, 500).await);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let waiting = loop {
        let stats = server.stats().await;
        let output = stats["outputs"]["postgres"].clone();
        if output["waiting"] == true && output["pending_bytes"].as_u64().unwrap_or(0) > 0 {
            break output;
        }
        assert!(std::time::Instant::now() < deadline, "the wait never showed in /stats: {stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(waiting["last_error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{waiting}");
    let metrics = server.client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let pending = metrics
        .lines()
        .find(|l| l.starts_with("sluice_output_pending_bytes{output=\"postgres\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("sluice_output_pending_bytes for postgres");
    assert!(pending > 0.0, "{metrics}");

    cluster("start");
    server.flush().await;
    let ids = stored_ids(&db).await;
    assert_eq!(ids.len(), 500, "every acknowledged event, once");
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), acked.into_iter().collect::<HashSet<_>>());
    assert_eq!(db.count("SELECT sum(count)::bigint FROM aggregated_logs").await, 500, "pattern counts once");
    assert_eq!(db.count("SELECT count(*) FROM log_events").await, 500);
}

#[tokio::test]
async fn kill_9_mid_run_stores_every_acknowledged_event_once() {
    let _shared = SERVER.read().await;
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, pipeline(&db)).expect("write pipeline");
    let data = dir.path().join("data");
    let client = reqwest::Client::new();

    let mut child = ChildServer::spawn(&path, &data).await;
    let mut acked = Vec::new();
    for round in 0..10 {
        acked.extend(send(&child.base, &client, round * 100, round * 100 + 100).await);
    }
    child.kill9();

    let child = ChildServer::spawn(&path, &data).await;
    let flushed = client.post(format!("{}/flush", child.base)).send().await.expect("flush");
    assert_eq!(flushed.status(), 200);
    let ids = stored_ids(&db).await;
    assert_eq!(ids.len(), 1000);
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), acked.into_iter().collect::<HashSet<_>>());
    assert_eq!(db.count("SELECT sum(count)::bigint FROM aggregated_logs").await, 1000, "pattern counts once");
}
