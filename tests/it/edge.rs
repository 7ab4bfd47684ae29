//! `pipelines/edge.yaml` as shipped (only the addresses of the test's publisher and database
//! substituted): ZeroMQ and HTTP in, the encrypted store, and PostgreSQL forwarding. While the
//! link to the database is down the box goes on storing (across a restart too), and when it
//! returns everything is forwarded, once.
//!
//! The link is a TCP relay in this test: while "down" it closes every connection it is given, as
//! an unreachable central database does; once "up" it relays to the machine's real PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::TestServer;
use crate::pg::{SERVER, TestDb, admin_url};
use crate::zeromq::Publisher;

const SHIPPED_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A relay in front of PostgreSQL that can be taken down and brought back.
struct Link {
    port: u16,
    up: Arc<AtomicBool>,
    /// The relayed connections, ended when the link goes down.
    relayed: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Link {
    async fn to(target: String, up: bool) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(up));
        let relayed: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (is_up, connections) = (up.clone(), relayed.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().expect("relayed").push(relay.abort_handle());
            }
        });
        Link { port, up, relayed, task }
    }

    fn bring_up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Refuses new connections and cuts the open ones, as a lost uplink does.
    fn take_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for relay in self.relayed.lock().expect("relayed").drain(..) {
            relay.abort();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
        self.take_down();
    }
}

/// `host:port` of the machine's PostgreSQL, from the test database address.
fn postgres_address() -> String {
    let url = admin_url();
    let after_at = url.rsplit_once('@').map_or(url.as_str(), |(_, rest)| rest);
    after_at.split('/').next().unwrap_or("127.0.0.1:5432").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_pipeline_keeps_storing_offline_and_forwards_when_the_link_returns() {
    let _shared = SERVER.read().await;
    let db = TestDb::create().await;
    let link = Link::to(postgres_address(), true).await;
    let mut publisher = Publisher::start(0, false).await;
    let path = format!("{}/../pipelines/edge.yaml", env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(&path).expect("the shipped pipeline");
    assert!(shipped.contains(SHIPPED_POSTGRES) && shipped.contains("tcp://127.0.0.1:5556"));
    let relayed = format!("postgres://postgres@127.0.0.1:{}/{}", link.port, db.name);
    let yaml = shipped
        .replace(SHIPPED_POSTGRES, &relayed)
        .replace("tcp://127.0.0.1:5556", &format!("tcp://127.0.0.1:{}", publisher.port));
    let mut server = TestServer::start_with_key(&yaml, Some(b"edge-test-key")).await;

    // Online: forwarded as it comes.
    let first: Vec<_> = (0..3).map(|i| json!({"message": format!("door {i} opened"), "source": "site"})).collect();
    assert_eq!(server.ingest_ndjson(&first).await.0, 202);
    assert_eq!(db.wait_count("SELECT count(*) FROM logs WHERE source = 'site'", 3, Duration::from_secs(30)).await, 3);

    // The uplink is lost: both inputs are still taken, normalized, mined and stored on the box.
    link.take_down();
    publisher.wait_subscribed("logs.").await;
    for i in 0..5 {
        let entry = json!({"level": "WARNING", "subsystem": "plant", "message": format!("pump {i} pressure low")});
        publisher.entry("logs.plant", entry).await;
    }
    let lines: Vec<_> =
        (0..5).map(|i| json!({"message": format!("valve {i} stuck"), "level": "error", "source": "plant"})).collect();
    let (status, _) = server.ingest_ndjson(&lines).await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, total) = server.logs("source=plant").await;
        if total == 10 {
            break;
        }
        assert!(Instant::now() < deadline, "the box stored {total} of 10 events while offline");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (rows, _) = server.logs("source=plant").await;
    assert!(rows.iter().all(|r| r["pattern_id"].as_str().is_some_and(|p| !p.is_empty())), "{rows:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let waiting = loop {
        let output = server.stats().await["outputs"]["postgres"].clone();
        if output["waiting"] == true && output["pending_bytes"].as_u64().unwrap_or(0) > 0 {
            break output;
        }
        assert!(Instant::now() < deadline, "the forwarding never showed as waiting: {output}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(waiting["last_error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{waiting}");

    // A restart while still offline: the box starts from its own record of where the forwarding
    // stands (it failed before committing, so that record is exact), without the database, and
    // goes on storing.
    server.restart().await;
    let (status, _) =
        server.ingest_ndjson(&[json!({"message": "valve 7 stuck", "level": "error", "source": "plant"})]).await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.logs("source=plant").await.1 != 11 {
        assert!(Instant::now() < deadline, "the restarted box did not store while offline");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The link returns: everything the box kept is forwarded, once.
    link.bring_up();
    assert_eq!(
        db.wait_count("SELECT count(*) FROM logs WHERE source = 'plant'", 11, Duration::from_secs(60)).await,
        11
    );
    server.flush().await;
    assert_eq!(db.count("SELECT count(*) FROM logs").await, 14);
    assert_eq!(db.count("SELECT sum(count)::bigint FROM aggregated_logs").await, 14);
    assert_eq!(
        db.count("SELECT count::bigint FROM aggregated_logs WHERE message_pattern = 'pump <*> pressure low'").await,
        5
    );
    assert_eq!(server.stats().await["outputs"]["postgres"]["pending_bytes"], 0);
}
