//! The zeromq input against a real ZeroMQ publisher: `zmq_publisher.py` (pyzmq, libzmq) binds
//! an XPUB socket like seed 000's message bus and sends protobuf `LogEntry` messages it encodes
//! itself. It reports each subscription it sees, so a test sends only once Sluice has subscribed
//! (no slow-joiner loss, no sleeping).
//!
//! Needs Debian's python3-zmq (`scripts/setup-test.sh`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::TestServer;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/it/zmq_publisher.py");

/// The publisher's stdin and stdout; the blocking reads and writes run on a blocking thread.
type Pipes = (ChildStdin, BufReader<ChildStdout>);

/// A publisher process, driven over its stdin.
pub(crate) struct Publisher {
    child: Child,
    pipes: Option<Pipes>,
    pub port: u16,
}

impl Publisher {
    /// Starts a publisher bound to `port` (0: a free one).
    pub async fn start(port: u16, deliver_all: bool) -> Publisher {
        let args = if deliver_all { vec!["--deliver-all"] } else { vec![] };
        tokio::task::spawn_blocking(move || Publisher::start_blocking(port, &args)).await.expect("start")
    }

    /// Starts a publisher that connects to a subscriber bound to `port`.
    async fn connecting(port: u16) -> Publisher {
        tokio::task::spawn_blocking(move || Publisher::start_blocking(port, &["--connect"])).await.expect("start")
    }

    fn start_blocking(port: u16, args: &[&str]) -> Publisher {
        // Debian's python3-zmq installs for /usr/bin/python3; a python3 earlier on PATH (pyenv)
        // may not see it.
        let python = if std::path::Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
        let mut command = Command::new(python);
        command.arg(SCRIPT).arg(port.to_string()).args(args);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!("the publisher did not start (is python3-zmq installed? scripts/setup-test.sh): {line:?}")
        });
        let port = ready["port"].as_u64().expect("port") as u16;
        Publisher { child, pipes: Some((stdin, stdout)), port }
    }

    /// Sends one command and waits for its answer, which must be `ok`.
    async fn command(&mut self, command: Value) {
        let (mut stdin, mut stdout) = self.pipes.take().expect("the publisher's pipes");
        let text = command.to_string();
        let (pipes, line) = tokio::task::spawn_blocking(move || {
            writeln!(stdin, "{text}").expect("write to the publisher");
            stdin.flush().expect("flush");
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read from the publisher");
            ((stdin, stdout), line)
        })
        .await
        .expect("publisher pipes");
        self.pipes = Some(pipes);
        let reply: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("publisher said {line:?}"));
        assert_eq!(reply["ok"], true, "publisher: {reply} (for {command})");
    }

    /// Waits until a subscriber has subscribed to `prefix`.
    pub async fn wait_subscribed(&mut self, prefix: &str) {
        self.command(json!({"op": "wait_subscribed", "prefix": prefix, "timeout": 20})).await;
    }

    pub async fn entry(&mut self, topic: &str, entry: Value) {
        self.command(json!({"op": "entry", "topic": topic, "entry": entry})).await;
    }

    async fn frames(&mut self, frames: Value) {
        self.command(json!({"op": "frames", "frames": frames})).await;
    }

    /// SIGKILL: the process ends without closing anything itself.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pipeline(inputs: &str) -> String {
    format!(
        "
inputs:
{inputs}
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {{}}
"
    )
}

/// Polls until `query` matches `n` stored events (or more), within 20 s; returns them.
async fn wait_for_logs(server: &TestServer, query: &str, n: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        server.flush().await;
        let (rows, total) = server.logs(query).await;
        if total >= n {
            return rows;
        }
        assert!(Instant::now() < deadline, "{total} of {n} events stored for `{query}`: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until `n` dead letters are stored, within 20 s.
async fn wait_for_dead_letters(server: &TestServer, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        server.flush().await;
        let letters = server.dead_letters().await;
        if letters.len() >= n {
            return letters;
        }
        assert!(Instant::now() < deadline, "{} of {n} dead letters: {letters:?}", letters.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn find<'a>(rows: &'a [Value], message: &str) -> &'a Value {
    rows.iter().find(|r| r["message"] == message).unwrap_or_else(|| panic!("no event `{message}` in {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_protobuf_log_entries_are_stored() {
    // Delivering every topic to every subscriber makes Sluice's own topic filter do the work.
    let mut publisher = Publisher::start(0, true).await;
    let inputs = format!("  - zeromq:\n      connect: [tcp://127.0.0.1:{}]", publisher.port);
    let mut server = TestServer::start(&pipeline(&inputs)).await;
    publisher.wait_subscribed("logs.").await;

    publisher.frames(json!([{"text": "metrics.x"}, {"text": "{\"message\": \"not a log\"}"}])).await;
    let subsystems = ["backend", "api_gateway", "frontend"];
    let levels = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
    for i in 0..30 {
        let subsystem = subsystems[i % 3];
        publisher
            .entry(
                &format!("logs.{subsystem}"),
                json!({
                    "timestamp": format!("2025-01-31T12:00:{:02}.250000+00:00", i),
                    "level": levels[i % 5],
                    "subsystem": subsystem,
                    "module": format!("module{}", i % 4),
                    "function": "handle",
                    "message": format!("request {i} handled"),
                    "file_path": "/srv/app/handler.py",
                    "line_number": 40 + i,
                    "user_uuid": "u-1",
                    "session_id": "s-1",
                    "trace_id": format!("trace-{i}"),
                    "extra": {"attempt": i, "region": "eu"},
                }),
            )
            .await;
    }
    // The seed's publishers may leave all but the message unset, and send extra as any text.
    publisher.entry("logs.cli", json!({"message": "bare entry", "extra": "not json"})).await;

    let rows = wait_for_logs(&server, "", 31).await;
    assert_eq!(rows.len(), 31, "metrics.x must not be stored: {rows:?}");

    let row = find(&rows, "request 7 handled");
    assert_eq!(row["level"], "WARNING");
    assert_eq!(row["source"], "api_gateway");
    assert_eq!(row["module"], "module3");
    assert_eq!(row["function"], "handle");
    assert_eq!(row["topic"], "logs.api_gateway");
    assert_eq!(row["file"], "/srv/app/handler.py");
    assert_eq!(row["line"], 47);
    assert_eq!(row["user_id"], "u-1");
    assert_eq!(row["session_id"], "s-1");
    assert_eq!(row["trace_id"], "trace-7");
    assert_eq!(row["input"], "zeromq");
    assert!(row["timestamp"].as_str().unwrap_or_default().starts_with("2025-01-31T12:00:07.25"), "{row}");
    assert_eq!(row["attributes"]["region"], "eu", "{row}");
    assert_eq!(row["attributes"]["attempt"], 7, "{row}");

    let row = find(&rows, "request 0 handled");
    assert_eq!(
        (&row["level"], &row["source"], &row["topic"]),
        (&json!("DEBUG"), &json!("backend"), &json!("logs.backend"))
    );
    let bare = find(&rows, "bare entry");
    assert_eq!(bare["topic"], "logs.cli");
    assert_eq!(bare["level"], "INFO", "the default level: {bare}");
    assert_eq!(bare["attributes"]["extra"], "not json", "{bare}");

    let (errors, total) = server.logs("levels=error").await;
    assert_eq!(total, 6, "{errors:?}");
    assert!(server.dead_letters().await.is_empty(), "metrics.x must be skipped, not rejected");
    stop(&mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_are_dead_lettered_and_the_input_goes_on() {
    let mut publisher = Publisher::start(0, false).await;
    let port = publisher.port;
    let inputs = format!(
        "  - zeromq:\n      name: zmq-pb\n      connect: [tcp://127.0.0.1:{port}]\n      topics: [logs.pb]\n  \
         - zeromq:\n      name: zmq-json\n      format: json\n      connect: [tcp://127.0.0.1:{port}]\n      topics: [logs.json]"
    );
    let mut server = TestServer::start(&pipeline(&inputs)).await;
    publisher.wait_subscribed("logs.pb").await;
    publisher.wait_subscribed("logs.json").await;

    // An invalid key (field 0) and then bytes that are no protobuf at all.
    publisher.frames(json!([{"text": "logs.pb.garbage"}, {"hex": "00ffffffffff"}])).await;
    publisher.frames(json!([{"text": "logs.pb.big"}, {"byte": 10, "count": 10 * 1024 * 1024}])).await;
    publisher.frames(json!([{"text": "logs.pb.solo"}])).await;
    publisher.frames(json!([{"text": "logs.json.bad"}, {"hex": "7b226d657373616765223a2022c328227d"}])).await;
    publisher
        .entry("logs.pb.good", json!({"message": "protobuf after garbage", "level": "ERROR", "subsystem": "backend"}))
        .await;
    publisher
        .frames(
            json!([{"text": "logs.json.good"}, {"text": "{\"message\": \"json after garbage\", \"level\": \"warn\"}"}]),
        )
        .await;

    let rows = wait_for_logs(&server, "", 2).await;
    let good = find(&rows, "protobuf after garbage");
    assert_eq!(
        (&good["level"], &good["source"], &good["input"]),
        (&json!("ERROR"), &json!("backend"), &json!("zmq-pb"))
    );
    let good = find(&rows, "json after garbage");
    assert_eq!(
        (&good["level"], &good["topic"], &good["input"]),
        (&json!("WARNING"), &json!("logs.json.good"), &json!("zmq-json"))
    );

    let letters = wait_for_dead_letters(&server, 4).await;
    assert_eq!(letters.len(), 4, "{letters:?}");
    let letter = |topic: &str| {
        letters
            .iter()
            .find(|l| l["event"]["topic"] == topic)
            .unwrap_or_else(|| panic!("no dead letter for {topic}: {letters:?}"))
    };
    let reason = |topic: &str| letter(topic)["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason("logs.pb.garbage").starts_with("invalid protobuf LogEntry: "), "{}", reason("logs.pb.garbage"));
    assert_eq!(
        reason("logs.pb.big"),
        format!("message too large: {} bytes exceeds max_message_bytes 1048576", 10 * 1024 * 1024 + 11)
    );
    assert!(reason("logs.pb.solo").contains("no payload frame"), "{}", reason("logs.pb.solo"));
    assert!(reason("logs.json.bad").starts_with("invalid UTF-8 in JSON payload"), "{}", reason("logs.json.bad"));
    assert_eq!(letter("logs.pb.garbage")["stage"], "input");
    assert_eq!(letter("logs.json.bad")["guest"], "zmq-json");

    let metrics = server.client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    for expected in [
        r#"sluice_requests_rejected_total{input="zmq-pb",reason="invalid protobuf LogEntry"} 1"#,
        r#"sluice_requests_rejected_total{input="zmq-pb",reason="message too large"} 1"#,
        r#"sluice_requests_rejected_total{input="zmq-json",reason="invalid UTF-8 in JSON payload"} 1"#,
    ] {
        assert!(metrics.contains(expected), "no `{expected}` in\n{metrics}");
    }
    stop(&mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_input_takes_publishers_that_connect() {
    let port = free_port();
    let inputs = format!(
        "  - zeromq:\n      name: bus\n      bind: tcp://127.0.0.1:{port}\n      format: json\n      topics: ['']"
    );
    let mut server = TestServer::start(&pipeline(&inputs)).await;
    let mut publishers = [Publisher::connecting(port).await, Publisher::connecting(port).await];
    for (i, publisher) in publishers.iter_mut().enumerate() {
        publisher.wait_subscribed("").await;
        let line = format!("level=error msg=\"from publisher {i}\" service=worker{i}");
        publisher.frames(json!([{"text": format!("app.{i}")}, {"text": line}])).await;
    }
    let rows = wait_for_logs(&server, "", 2).await;
    let row = find(&rows, "from publisher 1");
    assert_eq!((&row["level"], &row["source"], &row["topic"]), (&json!("ERROR"), &json!("worker1"), &json!("app.1")));
    assert_eq!(row["input"], "bus");
    stop(&mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stop_the_input_journals_what_it_holds() {
    let mut publisher = Publisher::start(0, false).await;
    // A long linger: what arrives is held for a record that is not full yet.
    let inputs = format!("  - zeromq:\n      connect: [tcp://127.0.0.1:{}]\n      linger: 10s", publisher.port);
    let mut server = TestServer::start(&pipeline(&inputs)).await;
    publisher.wait_subscribed("logs.").await;
    publisher.entry("logs.backend", json!({"message": "held at shutdown", "level": "INFO"})).await;
    publisher.frames(json!([{"text": "logs.backend"}, {"hex": "ffff"}])).await;
    // A rejection is counted on receipt, so once it shows both messages have arrived (in order,
    // over one connection) and neither is journaled yet.
    let deadline = Instant::now() + Duration::from_secs(20);
    let counted = r#"sluice_requests_rejected_total{input="zeromq",reason="invalid protobuf LogEntry"} 1"#;
    loop {
        let metrics =
            server.client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
        if metrics.contains(counted) {
            break;
        }
        assert!(Instant::now() < deadline, "the garbage message was not received:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.flush().await;
    assert_eq!(server.logs("").await.1, 0, "held, not yet journaled");

    stop(&mut server).await;
    server.restart().await;
    let rows = wait_for_logs(&server, "", 1).await;
    find(&rows, "held at shutdown");
    let letters = wait_for_dead_letters(&server, 1).await;
    assert!(letters[0]["reason"].as_str().unwrap_or_default().starts_with("invalid protobuf LogEntry"), "{letters:?}");
    stop(&mut server).await;
}

/// A graceful stop, which cancels the zeromq inputs: each must journal what it holds and return
/// promptly, so the whole stop stays well within the topology's timeout for an input.
async fn stop(server: &mut TestServer) {
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5), "stopping took {:?}", started.elapsed());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_input_waits_for_and_reconnects_to_a_restarted_publisher() {
    // Sluice starts first: the publisher is not up yet, and is waited for.
    let port = free_port();
    let inputs = format!("  - zeromq:\n      connect: [tcp://127.0.0.1:{port}]");
    let mut server = TestServer::start(&pipeline(&inputs)).await;
    let mut first = Publisher::start(port, false).await;
    first.wait_subscribed("logs.").await;
    for i in 0..5 {
        first.entry("logs.backend", json!({"message": format!("before restart {i}"), "level": "INFO"})).await;
    }
    wait_for_logs(&server, "q=before%20restart", 5).await;

    for round in 0..2 {
        first.kill();
        let down = Instant::now();
        first = Publisher::start(port, false).await;
        first.wait_subscribed("logs.").await;
        eprintln!("zeromq: resubscribed {:?} after the publisher was killed (round {round})", down.elapsed());
        // The subscriber may still be replacing its socket for the dead connection when the new
        // one has subscribed; PUB/SUB drops what is sent meanwhile. Probe until one arrives.
        let probes = probe_until_stored(&server, &mut first, round).await;
        for i in 0..5 {
            first
                .entry("logs.backend", json!({"message": format!("after restart {round} {i}"), "level": "INFO"}))
                .await;
        }
        wait_for_logs(&server, &format!("q=after%20restart%20{round}"), 5).await;
        eprintln!("zeromq: {probes} probe(s) before the restarted publisher's messages arrived");
    }
    let (_, total) = server.logs("q=restart").await;
    assert_eq!(total, 15);
    stop(&mut server).await;
}

/// Sends probe entries until one is stored (within 20 s); returns how many were sent.
async fn probe_until_stored(server: &TestServer, publisher: &mut Publisher, round: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    for k in 0.. {
        publisher.entry("logs.backend", json!({"message": format!("probe {round} {k}")})).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.flush().await;
        if server.logs(&format!("q=probe%20{round}")).await.1 > 0 {
            return k + 1;
        }
        assert!(Instant::now() < deadline, "no probe arrived after the publisher restarted");
    }
    unreachable!("the probe loop only ends by returning or failing")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_shipped_pipeline_stores_protobuf_entries_encrypted() {
    const SECRET: &str = "SEED000-canary-5e1f-plaintext";
    let mut publisher = Publisher::start(0, false).await;
    let path = format!("{}/../pipelines/000-zeromq-encrypted.yaml", env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(&path)
        .expect("the shipped pipeline")
        .replace("tcp://127.0.0.1:5556", &format!("tcp://127.0.0.1:{}", publisher.port));
    let mut server = TestServer::start_with_key(&yaml, Some(b"seed-000-test-key")).await;
    publisher.wait_subscribed("logs.").await;
    for i in 0..20 {
        let entry =
            json!({"level": "ERROR", "subsystem": "backend", "module": "db", "message": format!("{SECRET} {i}")});
        publisher.entry("logs.backend", entry).await;
    }
    let rows = wait_for_logs(&server, "", 20).await;
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r["level"] == "ERROR" && r["source"] == "backend" && r["topic"] == "logs.backend"));
    stop(&mut server).await;
    // Encrypted at rest: the message text is in neither the store nor the journal.
    let data = server.data.path().join("data");
    let mut bytes = Vec::new();
    for file in ["sluice.db", "sluice.db-wal"] {
        bytes.extend(std::fs::read(data.join(file)).unwrap_or_default());
    }
    for entry in std::fs::read_dir(data.join("journal")).expect("journal") {
        bytes.extend(std::fs::read(entry.expect("segment").path()).expect("read"));
    }
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "plaintext found at rest");
}
