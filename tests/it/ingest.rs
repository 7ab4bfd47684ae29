//! Ingest → query round trips through every endpoint, and data surviving a restart.

use serde_json::{Value, json};

use crate::helpers::{DEFAULT_PIPELINE, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_events_are_normalized_mined_and_queryable() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let (status, reply) = server
        .ingest_ndjson(&[
            json!({"message": "User 123 logged in", "level": "warn", "source": "auth", "metadata": {"ip": "10.0.0.1"}}),
            json!({"msg": "User 456 logged in", "severity": "INFO", "service": "auth", "timestamp": "2025-11-30T20:10:00Z"}),
            json!("2024-05-01T12:00:00Z ERROR disk full on /dev/sda1"),
            json!("level=fatal msg=\"cache exploded\" service=cache"),
        ])
        .await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["accepted"], 4);
    server.flush().await;

    let (rows, total) = server.logs("").await;
    assert_eq!(total, 4);
    let by_message =
        |m: &str| rows.iter().find(|r| r["message"] == m).unwrap_or_else(|| panic!("no row {m}: {rows:?}")).clone();
    let first = by_message("User 123 logged in");
    assert_eq!(first["level"], "WARNING");
    assert_eq!(first["source"], "auth");
    assert_eq!(first["attributes"]["ip"], "10.0.0.1");
    let second = by_message("User 456 logged in");
    assert_eq!(second["timestamp"], "2025-11-30T20:10:00.000Z");
    assert_eq!(first["pattern_id"], second["pattern_id"], "one pattern for one template");
    let plain = by_message("disk full on /dev/sda1");
    assert_eq!(
        (plain["level"].as_str(), plain["timestamp"].as_str()),
        (Some("ERROR"), Some("2024-05-01T12:00:00.000Z"))
    );
    assert_eq!(by_message("cache exploded")["level"], "CRITICAL");

    let (status, total, patterns) = server.get("/api/v1/patterns").await;
    assert_eq!(status, 200);
    let user = patterns
        .as_array()
        .and_then(|p| p.iter().find(|p| p["pattern"] == "User <*> logged in"))
        .unwrap_or_else(|| panic!("no user pattern in {patterns}"));
    assert_eq!(user["count"], 2);
    assert_eq!(user["pattern_id"], first["pattern_id"]);
    assert_eq!(user["samples"].as_array().map(Vec::len), Some(2));
    assert!(total.is_some_and(|t| t >= 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_arrays_and_plain_text_bodies_are_accepted() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let (status, _) = server.post("/api/v1/ingest", "application/json", r#"[{"message":"a one"}, "b two"]"#).await;
    assert_eq!(status, 202);
    let (status, reply) = server.post("/api/v1/ingest", "text/plain", "plain c\n\nlevel=warn msg=d\n").await;
    assert_eq!((status, reply["accepted"].as_u64()), (202, Some(2)));
    server.flush().await;
    let (rows, total) = server.logs("").await;
    assert_eq!(total, 4);
    let mut messages: Vec<&str> = rows.iter().filter_map(|r| r["message"].as_str()).collect();
    messages.sort_unstable();
    assert_eq!(messages, ["a one", "b two", "d", "plain c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_endpoints_keep_their_shapes() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    // Seed 001: single and batch.
    let (status, reply) = server
        .post("/ingest", "application/json", json!({"message": "User login successful", "level": "INFO", "source": "auth-service", "metadata": {"user_id": "123"}}).to_string())
        .await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["id"].is_string());
    let batch = json!({"logs": [
        {"message": "Database query executed", "level": "DEBUG", "source": "db-service", "metadata": {"query_time": "0.05s"}},
        {"message": "Cache miss for key xyz", "level": "WARN", "source": "cache-service", "metadata": {"key": "user:xyz"}}
    ]});
    let (status, reply) = server.post("/ingest/batch", "application/json", batch.to_string()).await;
    assert_eq!((status, reply["count"].as_u64()), (200, Some(2)), "{reply}");
    // Seed 004: context instead of metadata.
    let (status, _) = server
        .post("/ingest", "application/json", json!({"source": "demo-app", "level": "error", "message": "Database timeout", "context": {"userId": "123"}}).to_string())
        .await;
    assert_eq!(status, 200);
    // Seed 002: audit events.
    let audit = json!({"session_id": 123, "event_type": "review_started", "payload": {"code_language": "python", "file_count": 3}});
    let (status, reply) = server.post("/log", "application/json", audit.to_string()).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("queued")), "{reply}");
    server.flush().await;

    let (rows, total) = server.logs("").await;
    assert_eq!(total, 5);
    let audit_row = rows.iter().find(|r| r["topic"] == "review_started").unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(audit_row["session_id"], "123");
    assert_eq!(audit_row["attributes"]["code_language"], "python");
    assert_eq!(audit_row["attributes"]["file_count"], 3);
    let demo = rows.iter().find(|r| r["source"] == "demo-app").unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(demo["attributes"]["userId"], "123");

    // Seed 004's history query: levels as the dashboard sends them, source filter, totals.
    let (status, total, recent) = server.get("/recent?levels=warn,error&limit=10&sinceMinutes=60").await;
    assert_eq!((status, total), (200, Some(2)), "{recent}");
    let (_, total, only_cache) = server.get("/recent?source=cache-service").await;
    assert_eq!(total, Some(1));
    assert_eq!(only_cache[0]["message"], "Cache miss for key xyz");
    let (_, total, _) = server.get("/api/v1/logs?q=DATABASE").await;
    assert_eq!(total, Some(2), "text search is case-insensitive");

    let (status, _, health) = server.get("/health").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, _, db) = server.get("/health/db").await;
    assert_eq!((status, db["database"].as_str()), (200, Some("libsql")));
    let stats = server.stats().await;
    assert_eq!((stats["received"].as_u64(), stats["stored"].as_u64()), (Some(5), Some(5)), "{stats}");
    let metrics = server.client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("sluice_events_in_total{input=\"http\"} 5"), "{metrics}");
    assert!(metrics.contains("sluice_guest_call_seconds_count{stage=\"mine\"}"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_reports_the_total() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let lines: Vec<Value> =
        (0..25).map(|i| json!({"message": format!("job {i} done"), "timestamp": 1_700_000_000 + i})).collect();
    assert_eq!(server.ingest_ndjson(&lines).await.0, 202);
    server.flush().await;
    let (status, total, page) = server.get("/api/v1/logs?limit=10&offset=20").await;
    assert_eq!((status, total), (200, Some(25)));
    let page = page.as_array().cloned().unwrap_or_default();
    assert_eq!(page.len(), 5);
    assert_eq!(page[0]["message"], "job 4 done", "newest first");
    let (status, _, error) = server.get("/api/v1/logs?limit=ten").await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("bad_query")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_patterns_survive_a_restart() {
    let mut server = TestServer::start(DEFAULT_PIPELINE).await;
    server
        .ingest_ndjson(&[
            json!({"message": "Connected to 10.0.0.7 in 35 ms"}),
            json!({"message": "Connected to 10.0.0.9 in 12 ms"}),
        ])
        .await;
    server.flush().await;
    let (rows, _) = server.logs("").await;
    let pattern = rows[0]["pattern_id"].clone();
    let compiled = compiled_guests(&server);
    assert_eq!(compiled.len(), 2, "normalize and mine are compiled once and cached: {compiled:?}");
    server.restart().await;
    assert_eq!(compiled_guests(&server), compiled, "a restart loads the cache instead of recompiling");

    let (rows, total) = server.logs("").await;
    assert_eq!(total, 2, "stored events survive the restart");
    server.ingest_ndjson(&[json!({"message": "Connected to 10.0.0.1 in 99 ms"})]).await;
    server.flush().await;
    let (rows_after, total) = server.logs("").await;
    assert_eq!(total, 3);
    assert_eq!(rows_after[0]["pattern_id"], pattern, "the miner's state came back: same pattern id");
    let (_, _, patterns) = server.get("/api/v1/patterns").await;
    assert_eq!(patterns[0]["count"], 3);
    assert_eq!(rows.len(), 2);
    server.stop().await;
}

/// The compile cache's artifacts with their modification times.
fn compiled_guests(server: &TestServer) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(server.data.path().join("data/cache"))
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .map(|p| {
            let modified = std::fs::metadata(&p).and_then(|m| m.modified()).expect("mtime");
            (p, modified)
        })
        .collect();
    out.sort();
    out
}
