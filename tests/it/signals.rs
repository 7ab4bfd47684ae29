//! Signals (alerts, pattern changes, insights) from a stage to every place they go: the embedded
//! store, PostgreSQL, the live tail's topics and a webhook; and ticks that let a time-driven
//! guest act without traffic.
//!
//! The `hostile` fixture in `signal` mode emits exactly the signal a message spells, so these
//! tests know the bodies; the real `alert` guest is driven by the pipeline clock in the last one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestServer, connect_tail, next_json};
use crate::peer::Peer;
use crate::pg::{SERVER, TestDb};

fn pipeline(db: &TestDb, webhook: &str) -> String {
    format!(
        "
inputs:
  - http: {{}}
stages:
  - name: mine
    guest: mine
  - name: emit
    guest: {hostile}
    config: {{trigger: 'emit:', mode: signal}}
outputs:
  - libsql: {{}}
  - websocket: {{}}
  - postgres:
      url: {url}
      pool: {{ min: 1, max: 2 }}
      tables: [logs, aggregated_logs, alerts]
  - webhook:
      url: {webhook}/hooks/alerts
      headers: {{Authorization: Bearer hook-secret}}
      max_attempts: 5
  - webhook:
      name: unreachable
      url: http://127.0.0.1:9/hooks
      max_attempts: 2
      timeout: 200ms
",
        hostile = crate::helpers::fixture("hostile").display(),
        url = db.url,
    )
}

async fn message(server: &TestServer, text: &str) {
    let (status, body) = server.post("/api/v1/ingest", "text/plain", text.to_string()).await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn signals_reach_the_stores_the_tail_and_a_webhook() {
    let _server = SERVER.read().await;
    let db = TestDb::create().await;
    // The first two deliveries fail: the webhook output must retry, without holding anything up.
    let hook = Peer::start(Arc::new(|n, _| if n < 2 { (503, json!({})) } else { (200, json!({"ok": true})) })).await;
    let server = TestServer::start(&pipeline(&db, &hook.base)).await;
    let mut tail = connect_tail(&server, "?topics=alerts,insights").await;

    for text in ["alpha job 1 done", "alpha job 2 done", "alpha job 3 done", "beta task 7 failed", "beta task 8 failed"]
    {
        message(&server, text).await;
    }
    server.flush().await;
    let (logs, _) = server.logs("").await;
    let pattern_of = |needle: &str| -> String {
        logs.iter().find(|l| l["message"].as_str().is_some_and(|m| m.contains(needle))).expect("event")["pattern_id"]
            .as_str()
            .expect("pattern id")
            .to_string()
    };
    let (alpha, beta) = (pattern_of("alpha"), pattern_of("beta"));
    assert_ne!(alpha, beta);

    let alert = json!({"id": "a1", "rule": "payment-errors", "kind": "threshold", "severity": "critical",
        "title": "too many payment errors", "message": "11 > 10", "key": "billing", "source": "billing",
        "fired_ns": 1_764_590_400_000_000_000_i64, "event_ids": ["e1", "e2"]});
    message(&server, &format!("emit: alert {alert}")).await;
    let insight = json!({"pattern_id": alpha, "template": "alpha job <*> done",
        "insight": {"source": "offline", "summary": "jobs finish", "severity": "info"}});
    message(&server, &format!("emit: insight {insight}")).await;
    let merge = json!({"id": alpha, "template": "<*> job <*> done", "merged": [beta]});
    message(&server, &format!("emit: pattern_changed {merge}")).await;
    server.flush().await;

    // The embedded store: the alert, the insight on its pattern, the merge folded in.
    let (status, total, alerts) = server.get("/api/v1/alerts").await;
    assert_eq!((status, total), (200, Some(1)), "{alerts}");
    assert_eq!(alerts[0]["rule"], "payment-errors");
    assert_eq!(alerts[0]["severity"], "critical");
    assert_eq!(alerts[0]["event_ids"], json!(["e1", "e2"]));
    assert_eq!(alerts[0]["fired_at"], "2025-12-01T12:00:00.000Z");
    let (_, _, patterns) = server.get("/api/v1/patterns?limit=100").await;
    let patterns = patterns.as_array().expect("patterns");
    let merged = patterns.iter().find(|p| p["pattern_id"] == alpha.as_str()).expect("surviving pattern");
    assert_eq!(merged["count"], 5, "{merged}");
    assert_eq!(merged["pattern"], "<*> job <*> done");
    assert_eq!(merged["insight"]["summary"], "jobs finish");
    assert!(patterns.iter().all(|p| p["pattern_id"] != beta.as_str()), "the merged pattern is gone");
    let (logs, _) = server.logs("").await;
    let repointed = logs.iter().filter(|l| l["message"].as_str().is_some_and(|m| m.contains("beta"))).count();
    assert_eq!(repointed, 2);
    assert!(logs.iter().all(|l| l["pattern_id"] != beta.as_str()), "no row still points at the merged pattern");

    // PostgreSQL: the same.
    let pool = db.pool().await;
    let (rule, severity): (String, String) =
        sqlx::query_as("SELECT rule, severity FROM alerts WHERE id = 'a1'").fetch_one(&pool).await.expect("alert row");
    assert_eq!((rule.as_str(), severity.as_str()), ("payment-errors", "critical"));
    let (count, template, summary): (i32, String, Option<String>) =
        sqlx::query_as("SELECT count, message_pattern, insight->>'summary' FROM aggregated_logs WHERE pattern_id = $1")
            .bind(&alpha)
            .fetch_one(&pool)
            .await
            .expect("aggregated row");
    assert_eq!((count, template.as_str(), summary.as_deref()), (5, "<*> job <*> done", Some("jobs finish")));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM aggregated_logs WHERE pattern_id = $1")
        .bind(&beta)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
    let beta_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM logs WHERE pattern_id = $1 AND message LIKE 'beta%'")
        .bind(&alpha)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(beta_rows, 2);
    pool.close().await;

    // The tail streamed the alert and the insight on their topics, and no events.
    let first = next_json(&mut tail).await;
    let second = next_json(&mut tail).await;
    assert_eq!((first["topic"].as_str(), second["topic"].as_str()), (Some("alerts"), Some("insights")));
    assert_eq!(first["payload"]["rule"], "payment-errors");
    assert_eq!(second["payload"]["pattern_id"], alpha.as_str());

    // The webhook got the alert on the third attempt, with its headers; the unreachable one
    // held nothing back (every flush above returned).
    let received = hook.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 3, "two failures, then the delivery");
    for r in &received {
        assert_eq!(r.path, "/hooks/alerts");
        assert_eq!(r.headers["authorization"], "Bearer hook-secret");
        assert_eq!(r.headers["x-sluice-signal"], "alert");
        assert_eq!(r.body["rule"], "payment-errors");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received().len(), 3, "delivered once, not again");
    let metrics = server.client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let failures = metrics
        .lines()
        .find(|l| l.starts_with("sluice_output_errors") && l.contains("output=\"unreachable\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok());
    assert!(failures.is_some_and(|n| n >= 1.0), "the unreachable webhook's failures are counted: {failures:?}");
}

#[tokio::test]
async fn an_absence_rule_fires_on_an_idle_tick_and_its_state_survives_a_restart() {
    let yaml = "
inputs:
  - http: {}
stages:
  - name: normalize
    guest: normalize
  - name: alert
    guest: alert
    config:
      rules:
        - {name: heartbeat-lost, kind: absence, filter: {source: heartbeat}, for: 1s, severity: error, dedup: 1s}
outputs:
  - libsql: {}
";
    let mut server = TestServer::start(yaml).await;
    let (status, body) = server.ingest_ndjson(&[json!({"message": "beat", "source": "heartbeat"})]).await;
    assert_eq!(status, 202, "{body}");
    // No more traffic: only the processor's idle ticks can make the rule fire.
    let alerts = wait_for_alerts(&server, 1, Duration::from_secs(20)).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "heartbeat-lost");
    assert_eq!(alerts[0]["kind"], "absence");
    assert_eq!(alerts[0]["severity"], "error");
    assert_eq!(alerts[0]["source"], "heartbeat");

    // The rule remembers it fired for this silence, across a restart: no second alert.
    server.restart().await;
    let (status, body) = server.ingest_ndjson(&[json!({"message": "other", "source": "web"})]).await;
    assert_eq!(status, 202, "{body}");
    server.flush().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, total, _) = server.get("/api/v1/alerts").await;
    assert_eq!(total, Some(1), "the same silence fires once");

    // A heartbeat re-arms it; the next silence fires again.
    let (status, _) = server.ingest_ndjson(&[json!({"message": "beat", "source": "heartbeat"})]).await;
    assert_eq!(status, 202);
    let alerts = wait_for_alerts(&server, 2, Duration::from_secs(20)).await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
}

async fn wait_for_alerts(server: &TestServer, n: usize, within: Duration) -> Vec<Value> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let (_, _, alerts) = server.get("/api/v1/alerts").await;
        let alerts = alerts.as_array().cloned().unwrap_or_default();
        if alerts.len() >= n || std::time::Instant::now() > deadline {
            return alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
