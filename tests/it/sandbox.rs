//! Hostile guests under real limits: a trap, an endless loop, a memory bomb, a panic and an answer
//! with a span outside its text each end only their call, their batch is dead-lettered with the
//! guest, version and reason, and the events after them still flow.

use serde_json::{Value, json};

use crate::helpers::{TestServer, fixture};

fn pipeline() -> String {
    let hostile = fixture("hostile");
    let stage = |name: &str, mode: &str| {
        format!(
            "  - name: {name}\n    guest: {}\n    config: {{trigger: {name}-me, mode: {mode}}}\n    limits: {{deadline: 300ms, memory_mib: 32}}\n",
            hostile.display()
        )
    };
    format!(
        "inputs:\n  - http: {{}}\nstages:\n  - name: normalize\n    guest: normalize\n{}{}{}{}{}{}outputs:\n  - libsql: {{}}\n",
        stage("trap", "trap"),
        stage("loop", "loop"),
        stage("bomb", "membomb"),
        stage("panic", "panic"),
        stage("badspan", "badspan"),
        stage("refuse", "fail"),
    )
}

async fn send(server: &TestServer, messages: &[&str]) {
    let lines: Vec<Value> = messages.iter().map(|m| json!({"message": m})).collect();
    let (status, reply) = server.ingest_ndjson(&lines).await;
    assert_eq!(status, 202, "{reply}");
    // One batch per request, so a failure takes only this request's events with it.
    server.flush().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_guests_are_contained_and_the_pipeline_continues() {
    let server = TestServer::start(&pipeline()).await;
    send(&server, &["before 1", "before 2"]).await;
    send(&server, &["please trap-me now"]).await;
    send(&server, &["please loop-me now"]).await;
    send(&server, &["please bomb-me now"]).await;
    send(&server, &["please panic-me now"]).await;
    send(&server, &["please badspan-me now", "an innocent bystander"]).await;
    send(&server, &["after 1", "please refuse-me", "after 2"]).await;

    let (rows, total) = server.logs("").await;
    let mut stored: Vec<&str> = rows.iter().filter_map(|r| r["message"].as_str()).collect();
    stored.sort_unstable();
    assert_eq!(stored, ["after 1", "after 2", "before 1", "before 2"]);
    assert_eq!(total, 4);

    let dead = server.dead_letters().await;
    let reason = |stage: &str| -> String {
        let triggering =
            |d: &&Value| d["event"]["message"].as_str().is_some_and(|m| m.contains(&format!("{stage}-me")));
        let row = dead
            .iter()
            .filter(|d| d["stage"] == stage)
            .find(triggering)
            .unwrap_or_else(|| panic!("no dead letter from {stage}: {dead:?}"));
        assert_eq!(row["guest"], "hostile", "a file guest is named after its file");
        assert_eq!(row["guest_version"].as_str().map(str::len), Some(12), "{row}");
        assert!(row["event"]["message"].as_str().is_some_and(|m| m.contains(&format!("{stage}-me"))), "{row}");
        row["reason"].as_str().unwrap_or_default().to_string()
    };
    let trap = reason("trap");
    assert!(trap.starts_with("guest trapped:") && trap.contains("unreachable"), "{trap}");
    assert_eq!(reason("loop"), "deadline of 300ms exceeded");
    let bomb = reason("bomb");
    assert!(bomb.starts_with("memory limit of 33554432 bytes exceeded"), "{bomb}");
    let panic = reason("panic");
    assert!(panic.contains("hostile guest panicked on purpose"), "the panic message reaches the reason: {panic}");
    let bad_span = reason("badspan");
    assert!(
        bad_span.starts_with("guest broke the contract: outcome 0: `fail` spans bytes 4294967291..+4 of a "),
        "{bad_span}"
    );
    assert_eq!(reason("refuse"), "hostile guest refused: refuse-me");
    // The whole answer is refused, so its batch goes with it: the bystander too, with the reason.
    let bystander = dead.iter().find(|d| d["event"]["message"] == "an innocent bystander").expect("bystander");
    assert_eq!(bystander["reason"].as_str(), Some(bad_span.as_str()));
    assert_eq!(dead.len(), 7, "only the hostile batches are dead-lettered: {dead:?}");

    let stats = server.stats().await;
    assert_eq!(stats["dead_lettered"], 7);
    let metrics = server.client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    for (stage, kind) in [("trap", "trap"), ("loop", "deadline"), ("bomb", "memory"), ("panic", "trap")] {
        let line = format!("sluice_guest_traps_total{{stage=\"{stage}\",kind=\"{kind}\"}} 1");
        assert!(metrics.contains(&line), "missing `{line}` in metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_rejects_its_config_stops_the_start() {
    let yaml = format!(
        "inputs: [{{http: {{}}}}]\nstages:\n  - name: h\n    guest: {}\n    config: {{trigger: x, mode: explode}}\noutputs: [{{libsql: {{}}}}]\n",
        fixture("hostile").display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, yaml).expect("write");
    let pipeline = sluice::config::Pipeline::load(&path).expect("valid file");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let options = sluice::ServerOptions {
        data_dir: dir.path().join("data"),
        db_key: None,
        pipeline,
        shutdown_timeout: std::time::Duration::from_secs(5),
        access: sluice::api::Access::default(),
        precompiled_dir: None,
        store_cache_mib: sluice::server::DEFAULT_STORE_CACHE_MIB,
        ack: sluice::journal::Ack::Synced,
    };
    let err = sluice::Server::start(options, listener).await.expect_err("bad config must fail the start");
    let message = err.to_string();
    assert!(message.starts_with("stage `h`: guest init failed:") && message.contains("explode"), "{message}");
}
