//! The seed systems' pipeline files from `pipelines/`, run as shipped (only the addresses of the
//! test's own database and queues substituted), end to end against the real broker and database.

use std::time::Duration;

use serde_json::json;

use crate::amqp::{declare, delete_queue, publish, publisher, unique};
use crate::helpers::TestServer;
use crate::pg::{SERVER, TestDb};

const SHIPPED_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn shipped(file: &str) -> String {
    let path = format!("{}/../pipelines/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(text.contains("tests:"), "{file} carries `sluice test` cases");
    text
}

#[tokio::test]
async fn seed_001_patterns_reach_aggregated_logs() {
    let _shared = SERVER.read().await;
    let db = TestDb::create().await;
    let yaml = shipped("001-http-patterns-postgres.yaml").replace(SHIPPED_POSTGRES, &db.url);
    let server = TestServer::start(&yaml).await;
    let logs: Vec<_> = (0..40)
        .map(|i| match i % 2 {
            0 => json!({"message": format!("User {i} logged in"), "level": "info", "source": "auth"}),
            _ => json!({"message": format!("Query took 0.{i}s"), "level": "debug", "source": "db"}),
        })
        .collect();
    let (status, _) = server.post("/ingest/batch", "application/json", json!({ "logs": logs }).to_string()).await;
    assert_eq!(status, 200);
    server.flush().await;
    assert_eq!(db.count("SELECT count(*) FROM logs").await, 40);
    assert_eq!(
        db.count(
            "SELECT count::bigint FROM aggregated_logs WHERE message_pattern = 'User <*> logged in' AND source = 'auth'"
        )
        .await,
        20
    );
    assert_eq!(db.count("SELECT sum(count)::bigint FROM aggregated_logs").await, 40);
}

#[tokio::test]
async fn seed_002_queue_and_log_endpoint_reach_log_events() {
    let _shared = SERVER.read().await;
    let db = TestDb::create().await;
    let queue = unique("log_queue");
    let yaml = shipped("002-amqp-audit-postgres.yaml")
        .replace(SHIPPED_POSTGRES, &db.url)
        .replace("queue: log_queue", &format!("queue: {queue}"));
    let server = TestServer::start(&yaml).await;
    let (_connection, channel) = publisher().await;
    declare(&channel, &queue, None).await;
    for i in 0..10 {
        let event = json!({"session_id": 7, "event_type": "review_completed", "payload": {"issues": i}});
        publish(&channel, "", &queue, event.to_string().as_bytes(), Some(format!("r-{i}"))).await;
    }
    // The seed's producer endpoint feeds the same table.
    let audit = json!({"session_id": 8, "event_type": "review_started", "payload": {"file_count": 3}});
    let (status, _) = server.post("/log", "application/json", audit.to_string()).await;
    assert_eq!(status, 200);
    let n = db.wait_count("SELECT count(*) FROM log_events", 11, Duration::from_secs(30)).await;
    assert_eq!(n, 11);
    assert_eq!(
        db.count("SELECT count(*) FROM log_events WHERE session_id = '7' AND event_type = 'review_completed'").await,
        10
    );
    assert_eq!(db.count("SELECT count(*) FROM log_events WHERE payload->>'file_count' = '3'").await, 1);
    delete_queue(&channel, &queue).await;
}
