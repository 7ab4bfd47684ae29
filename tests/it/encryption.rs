//! With a key, neither the store file nor the journal holds plaintext; without it, the same canary is plainly visible
//! (which proves the check can fail).

use serde_json::json;

use crate::helpers::{DEFAULT_PIPELINE, TestServer};

const CANARY: &str = "CANARY-7f3a9c-secret-payload";

/// The bytes of the store and its WAL.
fn raw_store(server: &TestServer) -> Vec<u8> {
    let db = server.db_path();
    let mut bytes = std::fs::read(&db).expect("read store");
    if let Ok(wal) = std::fs::read(db.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

/// The bytes of every journal segment.
fn raw_journal(server: &TestServer) -> Vec<u8> {
    let dir = server.data.path().join("data/journal");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("journal dir") {
        bytes.extend(std::fs::read(entry.expect("entry").path()).expect("read segment"));
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn ingest_canary(server: &TestServer) {
    let (status, _) = server.ingest_ndjson(&[json!({"message": format!("user secret is {CANARY}")})]).await;
    assert_eq!(status, 202);
    server.flush().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_store_holds_no_plaintext() {
    let mut server = TestServer::start_with_key(DEFAULT_PIPELINE, Some(b"correct horse battery staple")).await;
    ingest_canary(&server).await;
    server.stop().await;
    assert!(!contains(&raw_store(&server), CANARY), "the canary is readable in the encrypted file");
    let journal = raw_journal(&server);
    assert!(!journal.is_empty(), "the journal keeps its active segment");
    assert!(!contains(&journal, CANARY), "the canary is readable in the journal");

    // The key opens it again.
    server.restart().await;
    let (rows, total) = server.logs("").await;
    assert_eq!(total, 1);
    assert!(rows[0]["message"].as_str().is_some_and(|m| m.contains(CANARY)));
    server.stop().await;

    // Without the key it does not open.
    let options = sluice::ServerOptions {
        data_dir: server.data.path().join("data"),
        db_key: None,
        pipeline: sluice::config::Pipeline::load(&server.data.path().join("pipeline.yaml")).expect("pipeline"),
        shutdown_timeout: std::time::Duration::from_secs(5),
        access: sluice::api::Access::default(),
        precompiled_dir: None,
        store_cache_mib: sluice::server::DEFAULT_STORE_CACHE_MIB,
        ack: sluice::journal::Ack::Synced,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    assert!(
        sluice::Server::start(options, listener).await.is_err(),
        "an encrypted store must not open without its key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unencrypted_store_shows_the_canary() {
    let mut server = TestServer::start(DEFAULT_PIPELINE).await;
    ingest_canary(&server).await;
    server.stop().await;
    assert!(contains(&raw_store(&server), CANARY), "control: without a key the canary is in the file");
    assert!(contains(&raw_journal(&server), CANARY), "control: without a key the journal is plain");
}
