//! Pipeline reload: through the API, on a change to the file, and on SIGHUP. A reload builds the
//! whole new topology before touching the running one; a bad file or a guest that cannot start
//! leaves the running pipeline as it was, and the result is counted in `/stats` and `/metrics`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ChildServer, TestServer, connect_tail, fixture, next_json};

fn pipeline(default_level: &str) -> String {
    format!(
        "inputs:\n  - http: {{}}\nstages:\n  - name: normalize\n    guest: normalize\n    config: {{default_level: {default_level}}}\noutputs:\n  - libsql: {{}}\n  - websocket: {{}}\n"
    )
}

/// The stored level of a fresh event without one: shows which `default_level` is running.
async fn level_of_new_event(server: &TestServer, message: &str) -> String {
    assert_eq!(server.ingest_ndjson(&[json!({ "message": message })]).await.0, 202);
    server.flush().await;
    let (rows, _) = server.logs(&format!("q={message}")).await;
    rows[0]["level"].as_str().expect("level").to_string()
}

/// Waits (bounded) until `/stats` shows `n` reload attempts.
async fn wait_for_reloads(base: &str, n: u64) -> Value {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let stats: Value = client.get(format!("{base}/stats")).send().await.expect("stats").json().await.expect("json");
        let r = &stats["reload"];
        if r["succeeded"].as_u64().unwrap_or(0) + r["failed"].as_u64().unwrap_or(0) >= n {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reload seen at {base}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_changes_and_refuses_broken_files() {
    let server = TestServer::start(&pipeline("INFO")).await;
    let mut tail = connect_tail(&server, "").await;
    assert_eq!(level_of_new_event(&server, "before").await, "INFO");
    assert_eq!(next_json(&mut tail).await["payload"]["message"], "before");

    std::fs::write(server.pipeline_path(), pipeline("WARNING")).expect("write");
    let (status, reply) = server.send_json(Method::POST, "/api/v1/reload", None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["changes"]["stages_changed"], json!(["normalize"]));
    assert_eq!(reply["changes"]["inputs_kept"], json!(["http"]), "the unchanged input is kept: {reply}");
    assert_eq!(reply["changes"]["outputs_changed"], json!([]), "{reply}");
    assert_eq!(level_of_new_event(&server, "after").await, "WARNING");
    // The tail connection opened before the reload still streams.
    assert_eq!(next_json(&mut tail).await["payload"]["message"], "after");

    // A file that does not parse: refused with its line, and the running pipeline stays.
    std::fs::write(server.pipeline_path(), pipeline("WARNING").replace("config:", "confg:")).expect("write");
    let (status, reply) = server.send_json(Method::POST, "/api/v1/reload", None).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (422, Some("reload_failed")), "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("pipeline.yaml:6") && message.contains("confg"), "{message}");
    // A file that parses but whose guest cannot start: refused too.
    let hostile = format!(
        "inputs:\n  - http: {{}}\nstages:\n  - name: h\n    guest: {}\n    config: {{trigger: x, mode: explode}}\noutputs:\n  - libsql: {{}}\n",
        fixture("hostile").display()
    );
    std::fs::write(server.pipeline_path(), hostile).expect("write");
    let (status, reply) = server.send_json(Method::POST, "/api/v1/reload", None).await;
    assert_eq!(status, 422, "{reply}");
    assert!(
        reply["error"]["message"].as_str().is_some_and(|m| m.contains("stage `h`") && m.contains("explode")),
        "{reply}"
    );
    assert_eq!(level_of_new_event(&server, "still").await, "WARNING", "the old topology kept running");

    let stats = server.stats().await;
    assert_eq!(stats["reload"]["succeeded"], 1, "{stats}");
    assert_eq!(stats["reload"]["failed"], 2, "{stats}");
    assert_eq!(stats["reload"]["last"]["ok"], false);
    assert_eq!(stats["reload"]["last"]["trigger"], "api");
    let metrics = server.client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("sluice_reloads_total{result=\"ok\"} 1"), "{metrics}");
    assert!(metrics.contains("sluice_reloads_total{result=\"error\"} 2"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_file_reloads_it() {
    let server = TestServer::start(&pipeline("INFO")).await;
    assert_eq!(level_of_new_event(&server, "one").await, "INFO");
    // Replace the file the way editors do: write a new file, rename it over the old one.
    let tmp = server.pipeline_path().with_extension("new");
    std::fs::write(&tmp, pipeline("ERROR")).expect("write");
    std::fs::rename(&tmp, server.pipeline_path()).expect("rename");
    let stats = wait_for_reloads(&server.base, 1).await;
    assert_eq!(stats["reload"]["last"]["trigger"], "file", "{stats}");
    assert_eq!(stats["reload"]["last"]["ok"], true, "{stats}");
    assert_eq!(level_of_new_event(&server, "two").await, "ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_real_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, pipeline("INFO")).expect("write");
    let server = ChildServer::spawn(&path, &dir.path().join("data")).await;
    // Rewrite in place without a rename so only the signal, not necessarily the watcher, matters;
    // the watcher may fire too, so wait for the signal's reload specifically.
    std::fs::write(&path, pipeline("ERROR")).expect("write");
    let client = reqwest::Client::new();
    let status =
        std::process::Command::new("kill").args(["-HUP", &server.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let mut seen = false;
    for _ in 0..200 {
        let stats: Value =
            client.get(format!("{}/stats", server.base)).send().await.expect("stats").json().await.expect("json");
        if stats["reload"]["last"]["trigger"] == "signal" {
            assert_eq!(stats["reload"]["last"]["ok"], true, "{stats}");
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "SIGHUP caused a reload");
    let response = client
        .post(format!("{}/api/v1/ingest", server.base))
        .body("{\"message\": \"after hup\"}\n")
        .send()
        .await
        .expect("ingest");
    assert_eq!(response.status(), 202);
    client.post(format!("{}/flush", server.base)).send().await.expect("flush");
    let rows: Value = client
        .get(format!("{}/api/v1/logs?q=after", server.base))
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    assert_eq!(rows[0]["level"], "ERROR", "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_stream_closes_its_clients_so_they_reconnect() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start(&pipeline("INFO")).await;
    let mut tail = connect_tail(&server, "").await;
    std::fs::write(server.pipeline_path(), pipeline("INFO").replace("websocket: {}", "websocket: {buffer_batches: 8}"))
        .expect("write");
    let (status, reply) = server.send_json(Method::POST, "/api/v1/reload", None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["changes"]["outputs_changed"], json!(["websocket"]), "{reply}");
    let closed = loop {
        let message = tokio::time::timeout(Duration::from_secs(10), tail.next()).await.expect("an answer");
        match message {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let frame = closed.expect("a close frame with a reason");
    assert_eq!(u16::from(frame.code), 1012, "{frame:?}");
    // A new client gets the new stream.
    let mut fresh = connect_tail(&server, "").await;
    assert_eq!(level_of_new_event(&server, "on the new stream").await, "INFO");
    assert_eq!(next_json(&mut fresh).await["payload"]["message"], "on the new stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activated_version_stays_until_the_file_names_another() {
    use crate::helpers::{stage_status, variant};

    let dir = tempfile::tempdir().expect("tempdir");
    let gate = dir.path().join("gate.wasm");
    let original = std::fs::read(fixture("hostile")).expect("fixture");
    std::fs::write(&gate, &original).expect("write guest");
    let yaml = format!(
        "inputs:\n  - http: {{}}\nstages:\n  - name: gate\n    guest: {}\n    config: {{trigger: refuse-me, mode: fail}}\noutputs:\n  - libsql: {{}}\n",
        gate.display()
    );
    let server = TestServer::start(&yaml).await;
    let active = |guests: &Value| stage_status(guests, "gate")["active"].as_str().expect("active").to_string();
    let v1 = active(&server.guests().await);

    let (_, pushed) = server.push("gate", variant(&original, "v2")).await;
    let v2 = pushed["version"].as_str().expect("version").to_string();
    assert_eq!(server.activate("gate", &v2).await.0, 200);
    // Reloading the same file keeps the activated version (the stage is kept as it runs).
    let (status, reply) = server.send_json(Method::POST, "/api/v1/reload", None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["changes"]["stages_kept"], json!(["gate"]), "{reply}");
    assert_eq!(active(&server.guests().await), v2);

    // A new build at the path the file names wins, and the activated one becomes the previous.
    let v3_bytes = variant(&original, "v3");
    std::fs::write(&gate, &v3_bytes).expect("write new build");
    let (status, reply) = server.send_json(Method::POST, "/api/v1/reload", None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["changes"]["stages_changed"], json!(["gate"]), "{reply}");
    let guests = server.guests().await;
    let v3 = sluice::wasm::content_hash(&v3_bytes)[..12].to_string();
    assert_eq!(active(&guests), v3);
    assert_eq!(stage_status(&guests, "gate")["previous"], v2.as_str());
    let (status, reply) = server.send_json(Method::POST, "/api/v1/guests/gate/rollback", None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(active(&server.guests().await), v2);
    assert_ne!(v1, v3);

    // Dead letters name the version that refused each event.
    assert_eq!(server.ingest_ndjson(&[json!({"message": "please refuse-me"})]).await.0, 202);
    server.flush().await;
    let dead = server.dead_letters().await;
    assert_eq!(dead[0]["guest_version"], v2.as_str(), "{dead:?}");
}
