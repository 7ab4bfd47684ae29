//! An acknowledged event survives `kill -9`, and is stored exactly once after the restart.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{ChildServer, DEFAULT_PIPELINE};

/// A temporary directory holding the default pipeline file and a data directory path.
fn child_dirs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = dir.path().join("pipeline.yaml");
    std::fs::write(&pipeline, DEFAULT_PIPELINE).expect("write pipeline");
    let data = dir.path().join("data");
    (dir, pipeline, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_exactly_once() {
    survive_kill_9_exactly_once(&[]).await;
}

/// Acknowledged once written to the journal file (synced on a timer): `kill -9` right after the
/// acknowledgements loses nothing either, since the kernel holds what was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_acknowledgements_survive_kill_9_exactly_once() {
    survive_kill_9_exactly_once(&["--ack", "written"]).await;
}

async fn survive_kill_9_exactly_once(args: &[&str]) {
    let (_dir, pipeline, data) = child_dirs();
    let client = reqwest::Client::new();

    let mut server = ChildServer::spawn_with(&pipeline, &data, args).await;
    let mut acknowledged = 0u64;
    for request in 0..40 {
        let body: String = (0..25)
            .map(|i| format!("{}\n", json!({"message": format!("order {request}-{i} shipped"), "level": "info"})))
            .collect();
        let response = client.post(format!("{}/api/v1/ingest", server.base)).body(body).send().await.expect("ingest");
        assert_eq!(response.status(), 202);
        acknowledged += 25;
    }
    // No flush, no graceful shutdown: the process dies with whatever is in flight.
    server.kill9();

    let server = ChildServer::spawn_with(&pipeline, &data, args).await;
    let flushed = client.post(format!("{}/flush", server.base)).send().await.expect("flush");
    assert_eq!(flushed.status(), 200);
    let mut messages = HashSet::new();
    let mut offset = 0;
    loop {
        let response =
            client.get(format!("{}/api/v1/logs?limit=1000&offset={offset}", server.base)).send().await.expect("logs");
        let total: u64 = response.headers()["x-total-count"].to_str().expect("header").parse().expect("number");
        assert_eq!(total, acknowledged, "every acknowledged event, once");
        let rows: Vec<Value> = response.json().await.expect("json");
        if rows.is_empty() {
            break;
        }
        offset += rows.len();
        for row in rows {
            assert!(messages.insert(row["message"].as_str().unwrap_or_default().to_string()), "duplicate {row}");
        }
    }
    assert_eq!(messages.len() as u64, acknowledged);
    let patterns: Value = client
        .get(format!("{}/api/v1/patterns", server.base))
        .send()
        .await
        .expect("patterns")
        .json()
        .await
        .expect("json");
    assert_eq!(
        patterns[0]["count"].as_u64(),
        Some(acknowledged),
        "pattern counts are exact after the replay: {patterns}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_everything_acknowledged_before_exiting() {
    let (_dir, pipeline, data) = child_dirs();
    let client = reqwest::Client::new();

    let mut server = ChildServer::spawn(&pipeline, &data).await;
    let body: String = (0..500).map(|i| format!("{}\n", json!({"message": format!("request {i} served")}))).collect();
    let response = client.post(format!("{}/api/v1/ingest", server.base)).body(body).send().await.expect("ingest");
    assert_eq!(response.status(), 202);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "graceful shutdown exits cleanly: {exit}");

    // Everything was committed before the exit: nothing is left for the next start to replay.
    let server = ChildServer::spawn(&pipeline, &data).await;
    let stats: Value =
        client.get(format!("{}/stats", server.base)).send().await.expect("stats").json().await.expect("json");
    assert_eq!(stats["journal"]["pending_bytes"], 0, "{stats}");
    assert_eq!(stats["batches"], 0, "no replay was needed: {stats}");
    let response = client.get(format!("{}/api/v1/logs?limit=1", server.base)).send().await.expect("logs");
    assert_eq!(response.headers()["x-total-count"], "500");
}
