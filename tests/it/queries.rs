//! History queries under load: they run on the store's reader pool, never on the request runtime,
//! so `/health` answers while readers are busy; a full pool says `busy`, a query past its time
//! limit is stopped with `query_timeout`, and the text filter stays correct within its scan bound.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::helpers::{DEFAULT_PIPELINE, TestServer};

/// Adds `rows` events straight to the store (much faster than ingesting them), their times
/// spread over the last ten minutes, none of them matching `needle`.
async fn bulk_rows(server: &TestServer, rows: u32) {
    let db = libsql::Builder::new_local(server.db_path()).build().await.expect("open the store");
    let conn = db.connect().expect("connect");
    conn.busy_timeout(Duration::from_secs(30)).expect("busy timeout");
    conn.execute(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?1)
         INSERT INTO logs (event_id, timestamp, received_at, level, subsystem, message, input)
         SELECT 'bulk-' || x, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (x % 600) || ' seconds'),
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'INFO', 'bulk',
                'User ' || x || ' logged in from 10.0.' || (x % 256) || '.' || (x % 7) || ' after ' || (x % 999) || ' ms',
                'http'
         FROM n",
        [rows],
    )
    .await
    .expect("bulk insert");
}

fn at(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// GET returning status, JSON and the `X-Total-Count-Exact` header.
async fn get(server: &TestServer, path: &str) -> (u16, Value, Option<String>) {
    let response = server.client.get(server.url(path)).send().await.expect("get");
    let status = response.status().as_u16();
    let exact = response.headers().get("x-total-count-exact").and_then(|v| v.to_str().ok()).map(str::to_string);
    (status, response.json().await.unwrap_or(Value::Null), exact)
}

fn store(server: &TestServer) -> &sluice::storage::Store {
    &server.running.as_ref().expect("running").store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_while_every_reader_is_busy_and_the_rest_are_told_so() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    bulk_rows(&server, 300_000).await;
    // Every query scans all 300,000 rows for a word none has; a request waits 1 ms for a reader.
    store(&server).set_query_limits(Duration::from_secs(60), Duration::from_millis(1), 10_000_000);

    let queries: Vec<_> = (0..12)
        .map(|_| {
            let (client, url) = (server.client.clone(), server.url("/api/v1/logs?q=needle&limit=10"));
            tokio::spawn(async move {
                let response = client.get(url).send().await.expect("query");
                (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let (status, _, health) = server.get("/health").await;
        slowest = slowest.max(started.elapsed());
        assert_eq!((status, health["status"].as_str()), (200, Some("ok")), "{health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(slowest < Duration::from_secs(2), "/health took {slowest:?} while the readers were busy");

    let (mut answered, mut busy) = (0, 0);
    for query in queries {
        let (status, body) = query.await.expect("query task");
        match status {
            200 => answered += 1,
            503 => {
                assert_eq!(body["error"]["code"], "busy", "{body}");
                busy += 1;
            }
            other => panic!("query answered {other}: {body}"),
        }
    }
    assert!(answered >= 1, "the readers answered some queries");
    assert!(busy >= 1, "with 2 readers and no wait, 12 at once cannot all run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_time_limit_is_stopped_with_a_json_error() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    bulk_rows(&server, 400_000).await;
    store(&server).set_query_limits(Duration::from_millis(20), Duration::from_secs(2), 10_000_000);

    let started = Instant::now();
    let (status, body, _) = get(&server, "/api/v1/logs?q=needle").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "query_timeout", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("limit")), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "stopped soon after its limit: {:?}", started.elapsed());
    // Sub-minute buckets are counted in SQL, over every row of the window: stopped as well.
    let (status, body, _) = get(&server, "/api/v1/timeline?since=10m&buckets=600").await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("query_timeout")), "{body}");

    // The reader that was interrupted serves the next query normally.
    store(&server).set_query_limits(Duration::from_secs(60), Duration::from_secs(2), 10_000_000);
    let (status, body, exact) = get(&server, "/api/v1/logs?q=needle").await;
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(0)), "{body}");
    assert_eq!(exact.as_deref(), Some("true"));
    let (status, health) = server.send_json(reqwest::Method::GET, "/health/db", None).await;
    assert_eq!(status, 200, "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_filter_finds_every_match_and_says_when_it_looked_at_the_newest_rows_only() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let start = Utc::now() - chrono::Duration::minutes(30);
    let events: Vec<Value> = (0..30)
        .map(|i| {
            let message =
                if i % 3 == 0 { format!("found the Needle_{i} in a haystack") } else { format!("plain line {i}") };
            json!({"message": message, "level": "info", "timestamp": at(start + chrono::Duration::seconds(i))})
        })
        .collect();
    assert_eq!(server.ingest_ndjson(&events).await.0, 202);
    server.flush().await;

    let (status, total, rows) = server.get("/api/v1/logs?q=needle_&limit=3").await;
    assert_eq!((status, total), (200, Some(10)), "{rows}");
    let messages: Vec<&str> = rows.as_array().expect("rows").iter().filter_map(|r| r["message"].as_str()).collect();
    assert_eq!(
        messages,
        ["found the Needle_27 in a haystack", "found the Needle_24 in a haystack", "found the Needle_21 in a haystack"]
    );
    let (_, _, exact) = get(&server, "/api/v1/logs?q=needle_").await;
    assert_eq!(exact.as_deref(), Some("true"));
    // `_` and `%` are literal, not wildcards.
    assert_eq!(server.get("/api/v1/logs?q=needle%25").await.1, Some(0));

    // Looking at the newest 5 rows only: the match among them, and a total that says so.
    store(&server).set_query_limits(Duration::from_secs(5), Duration::from_secs(2), 5);
    let (status, body, exact) = get(&server, "/api/v1/logs?q=needle").await;
    assert_eq!(status, 200, "{body}");
    let messages: Vec<&str> = body.as_array().expect("rows").iter().filter_map(|r| r["message"].as_str()).collect();
    assert_eq!(messages, ["found the Needle_27 in a haystack"]);
    assert_eq!(exact.as_deref(), Some("false"));
    assert_eq!(server.get("/api/v1/logs?q=needle").await.1, Some(1));
    // Named ids are looked up whatever their age.
    let id = {
        store(&server).set_query_limits(Duration::from_secs(5), Duration::from_secs(2), 1000);
        let (_, _, all) = server.get("/api/v1/logs?q=Needle_0%20").await;
        all[0]["event_id"].as_str().expect("the oldest match").to_string()
    };
    store(&server).set_query_limits(Duration::from_secs(5), Duration::from_secs(2), 5);
    let (status, body, exact) = get(&server, &format!("/api/v1/logs?ids={id}")).await;
    assert_eq!((status, body[0]["message"].as_str()), (200, Some("found the Needle_0 in a haystack")), "{body}");
    assert_eq!(exact.as_deref(), Some("true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_from_minute_counts_matches_counting_in_sql() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    bulk_rows(&server, 20_000).await;
    let events: Vec<Value> =
        (0..50).map(|i| json!({"message": format!("disk {i} failing"), "level": "error", "source": "disk"})).collect();
    assert_eq!(server.ingest_ndjson(&events).await.0, 202);
    server.flush().await;
    // One-hour buckets (whole minutes: the per-minute counts) and ten-second ones (SQL).
    let (status, _, hours) = server.get("/api/v1/timeline?since=2h&buckets=2").await;
    assert_eq!(status, 200, "{hours}");
    let (status, _, seconds) = server.get("/api/v1/timeline?since=20m&buckets=120").await;
    assert_eq!(status, 200, "{seconds}");
    assert_eq!(seconds["bucket_seconds"], 10);
    let total = |t: &Value| {
        t["buckets"].as_array().expect("buckets").iter().map(|b| b["total"].as_u64().unwrap_or(0)).sum::<u64>()
    };
    assert_eq!(total(&hours), 20_050, "{hours}");
    assert_eq!(total(&seconds), 20_050);
    assert_eq!(hours["sources"], json!([{"source": "bulk", "count": 20_000}, {"source": "disk", "count": 50}]));
    assert_eq!(hours["sources"], seconds["sources"]);
    let errors = |t: &Value| {
        t["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| b["levels"]["ERROR"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!((errors(&hours), errors(&seconds)), (50, 50));
    let (_, _, filtered) = server.get("/api/v1/timeline?since=2h&buckets=2&source=disk&levels=error").await;
    assert_eq!(total(&filtered), 50, "{filtered}");
}
