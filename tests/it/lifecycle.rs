//! The guest lifecycle against the real runtime: uploads checked before anything runs, the write
//! API's token and signatures, activation and rollback with state carried over, a version that
//! cannot start leaving the old one active, and canaries reporting real differences.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{DEFAULT_PIPELINE, TestServer, builtin, fixture, stage_status, variant, version_stats};

/// A component in the text format.
fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("bad test component: {e}"))
}

/// The canary report of `normalize` once its candidate has dealt with `events` events: it runs
/// on its own thread, so it may still be working when the store has everything (bounded wait).
async fn canary_after(server: &TestServer, events: u64) -> Value {
    for _ in 0..200 {
        let (_, _, report) = server.get("/api/v1/guests/normalize/canary").await;
        let r = &report["canaries"][0];
        if r["events"].as_u64().unwrap_or(0) + r["skipped"].as_u64().unwrap_or(0) >= events {
            return report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the canary did not see {events} events");
}

/// Sends `head` on a fresh connection and returns what the server answers before closing.
async fn raw_request(base: &str, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an answer")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked_against_the_contract_before_anything_runs() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a core module", wat("(module)"), "component"),
        (
            "no exports",
            wat("(component)"),
            "missing export `sluice:pipeline/batch-stage@0.1.1` or `sluice:pipeline/stage@0.1.1` (the component exports: none)",
        ),
        (
            "another contract version",
            wat(r#"(component (instance $i) (export "sluice:pipeline/stage@9.0.0" (instance $i)))"#),
            "it exports `sluice:pipeline/stage@9.0.0`, but this Sluice supports `sluice:pipeline/batch-stage@0.1.1` or `sluice:pipeline/stage@0.1.1`",
        ),
        (
            "the batch world at a version that lacks it",
            wat(r#"(component (instance $i) (export "sluice:pipeline/batch-stage@0.1.0" (instance $i)))"#),
            "it exports `sluice:pipeline/batch-stage@0.1.0`, but this Sluice supports",
        ),
        (
            "a missing function",
            wat(r#"(component
                (core module $m (func (export "f")))
                (core instance $c (instantiate $m))
                (func $f (canon lift (core func $c "f")))
                (instance $i (export "init" (func $f)))
                (export "sluice:pipeline/stage@0.1.0" (instance $i)))"#),
            "export `sluice:pipeline/stage@0.1.0` lacks the function `process`",
        ),
        (
            "a wrong signature",
            wat(r#"(component
                (core module $m (func (export "f")))
                (core instance $c (instantiate $m))
                (func $f (canon lift (core func $c "f")))
                (instance $i (export "init" (func $f)) (export "process" (func $f)))
                (export "sluice:pipeline/stage@0.1.0" (instance $i)))"#),
            "`sluice:pipeline/stage@0.1.0#init` has the wrong type: it takes (), the contract says (config)",
        ),
        (
            "an import the host does not provide",
            wat(r#"(component (import "sluice:pipeline/secrets@0.1.0" (instance)))"#),
            "it imports `sluice:pipeline/secrets@0.1.0`, which this Sluice does not provide",
        ),
        (
            "a foreign import",
            wat(r#"(component (import "acme:net/sockets@1.0.0" (instance)))"#),
            "acme:net/sockets@1.0.0",
        ),
    ];
    for (what, bytes, expected) in cases {
        let (status, reply) = server.push("probe", bytes).await;
        assert_eq!(status, 422, "{what}: {reply}");
        assert_eq!(reply["error"]["code"], "invalid_component", "{what}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{what}: `{message}` should contain `{expected}`");
    }
    for bad in ["..", "Probe", "a%2Fb", "-x"] {
        // `..` normalises to another route, which answers without reading a body: keep it small.
        let (status, reply) = server.push(bad, b"\0asm".to_vec()).await;
        assert!(status == 400 || status == 404, "{bad}: {status} {reply}");
    }
    let guests = server.guests().await;
    assert!(!guests["guests"].as_array().expect("guests").iter().any(|g| g["name"] == "probe"), "{guests}");
    assert!(!server.data.path().join("data/guests/probe").exists(), "nothing refused reaches the disk");

    // An oversized upload is refused from its declared length, before its body is read.
    let reply = raw_request(
        &server.base,
        &format!("PUT /api/v1/guests/probe HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n", 64 * 1024 * 1024 + 1),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("guest_too_large"), "{reply}");

    let (status, first) = server.push("probe", builtin("normalize")).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["world"], "sluice:pipeline/batch-guest@0.1.1");
    assert_eq!(first["created"], true);
    let (status, again) = server.push("probe", builtin("normalize")).await;
    assert_eq!((status, &again["version"], &again["created"]), (200, &first["version"], &json!(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_apis_need_the_token_and_trusted_signatures() {
    let (secret, public) = sluice::guests::signing::generate_keypair().expect("keypair");
    let (other_secret, _) = sluice::guests::signing::generate_keypair().expect("keypair");
    let trusted = sluice::guests::signing::TrustedKeys::parse(&public, "test").expect("keys");
    let access = sluice::api::Access::new(Some("s3cret".into()), trusted);
    let server = TestServer::start_with(DEFAULT_PIPELINE, None, access).await;
    let bytes = variant(&builtin("normalize"), "signed");
    let put = |token: Option<&str>, signature: Option<String>| {
        let mut request = server.client.put(server.url("/api/v1/guests/normalize")).body(bytes.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(signature) = signature {
            request = request.header("x-sluice-signature", signature);
        }
        async move {
            let response = request.send().await.expect("upload");
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let good = sluice::guests::signing::sign(&secret, &bytes).expect("sign");
    let (status, reply) = put(None, Some(good.clone())).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (401, Some("unauthorized")), "{reply}");
    let (status, _) = put(Some("wrong"), Some(good.clone())).await;
    assert_eq!(status, 401);
    let (status, reply) = put(Some("s3cret"), None).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (403, Some("bad_signature")), "{reply}");
    let forged = sluice::guests::signing::sign(&other_secret, &bytes).expect("sign");
    let (status, reply) = put(Some("s3cret"), Some(forged)).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (403, Some("bad_signature")), "{reply}");
    let (status, reply) = put(Some("s3cret"), Some("not base64!".into())).await;
    assert_eq!(status, 403, "{reply}");
    let guests = server.guests().await;
    let versions = guests["guests"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == "normalize"))
        .expect("normalize")["versions"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(versions, 1, "only the built-in: nothing refused was stored: {guests}");

    let (status, reply) = put(Some("s3cret"), Some(good)).await;
    assert_eq!(status, 201, "{reply}");
    assert!(reply["signed_by"].as_str().is_some_and(|k| k.len() == 16), "{reply}");
    let version = reply["version"].as_str().expect("version").to_string();

    // Activation is a write too.
    let (status, _) = server.activate("normalize", &version).await;
    assert_eq!(status, 401);
    let response = server
        .client
        .post(server.url("/api/v1/guests/normalize/activate"))
        .bearer_auth("s3cret")
        .json(&json!({ "version": version }))
        .send()
        .await
        .expect("activate");
    assert_eq!(response.status(), 200);
    // Reading needs no token; ingest stays open for the seeds' producers.
    assert_eq!(server.get("/api/v1/guests").await.0, 200);
    assert_eq!(server.ingest_ndjson(&[json!({"message": "still open"})]).await.0, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_keeps_patterns_and_survives_restart_and_rollback() {
    let mut server = TestServer::start(DEFAULT_PIPELINE).await;
    let send = |n: u32| json!({ "message": format!("User {n} logged in from 10.0.0.{n}"), "level": "info" });
    assert_eq!(server.ingest_ndjson(&[send(1), send(2)]).await.0, 202);
    server.flush().await;
    let (_, _, before) = server.get("/api/v1/patterns").await;
    let before = before.as_array().expect("patterns").clone();
    assert_eq!(before.len(), 1, "{before:?}");
    let builtin_version = stage_status(&server.guests().await, "mine")["active"].as_str().expect("active").to_string();

    let (status, uploaded) = server.push("mine", variant(&builtin("mine"), "v2")).await;
    assert_eq!(status, 201, "{uploaded}");
    let v2 = uploaded["version"].as_str().expect("version").to_string();
    let (status, reply) = server.activate("mine", &v2[..8]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["activated"][0]["stage"], "mine");
    assert_eq!(reply["activated"][0]["active"], v2.as_str());
    assert_eq!(reply["activated"][0]["previous"], builtin_version.as_str());

    assert_eq!(server.ingest_ndjson(&[send(3)]).await.0, 202);
    server.flush().await;
    let (_, _, after) = server.get("/api/v1/patterns").await;
    let after = after.as_array().expect("patterns").clone();
    assert_eq!(after.len(), 1, "the new version found the old one's pattern: {after:?}");
    assert_eq!(after[0]["pattern_id"], before[0]["pattern_id"]);
    assert_eq!(after[0]["count"], 3);
    assert_eq!(version_stats(&server.guests().await, "mine", &v2)["events_in"], 1);

    // The activation is durable: a restart keeps v2, not the pipeline file's built-in.
    server.restart().await;
    let guests = server.guests().await;
    assert_eq!(stage_status(&guests, "mine")["active"], v2.as_str(), "{guests}");
    assert_eq!(stage_status(&guests, "mine")["previous"], builtin_version.as_str());

    let (status, reply) = server.send_json(Method::POST, "/api/v1/guests/mine/rollback", None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["activated"][0]["active"], builtin_version.as_str());
    assert_eq!(server.ingest_ndjson(&[send(4)]).await.0, 202);
    server.flush().await;
    let (_, _, patterns) = server.get("/api/v1/patterns").await;
    assert_eq!(patterns[0]["count"], 4, "{patterns}");
    assert_eq!(patterns.as_array().map(Vec::len), Some(1));

    let (status, reply) = server.activate("mine", "ffffffffffff").await;
    assert_eq!((status, reply["error"]["code"].as_str()), (404, Some("not_found")), "{reply}");
    let (status, reply) = server.activate("nosuch", &v2).await;
    assert_eq!(status, 404, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_cannot_start_leaves_the_old_one_active() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    // The hostile fixture is a valid component, but its `init` refuses the stage's `{}` config.
    let bytes = std::fs::read(fixture("hostile")).expect("fixture");
    let (status, uploaded) = server.push("normalize", bytes).await;
    assert_eq!(status, 201, "{uploaded}");
    let before = stage_status(&server.guests().await, "normalize")["active"].clone();
    let (status, reply) = server.activate("normalize", uploaded["version"].as_str().expect("v")).await;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"]["code"], "activation_failed");
    assert!(reply["error"]["message"].as_str().is_some_and(|m| m.contains("guest init failed")), "{reply}");
    assert_eq!(stage_status(&server.guests().await, "normalize")["active"], before);
    assert_eq!(server.ingest_ndjson(&[json!({"message": "x", "level": "warn"})]).await.0, 202);
    server.flush().await;
    let (rows, _) = server.logs("").await;
    assert_eq!(rows[0]["level"], "WARNING", "still normalized by the old version: {rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_reports_differences_without_touching_the_outputs() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    // A candidate for `normalize` that behaves differently: the miner's code.
    let (_, candidate) = server.push("normalize", builtin("mine")).await;
    let candidate = candidate["version"].as_str().expect("version").to_string();
    let (_, same) = server.push("normalize", variant(&builtin("normalize"), "same")).await;
    let same = same["version"].as_str().expect("version").to_string();

    let (status, reply) = server
        .send_json(
            Method::POST,
            "/api/v1/guests/normalize/canary",
            Some(json!({ "version": candidate, "max_diffs": 3 })),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let lines: Vec<Value> = (0..5).map(|i| json!({"message": format!("job {i} done"), "level": "warn"})).collect();
    assert_eq!(server.ingest_ndjson(&lines).await.0, 202);
    server.flush().await;
    let report = canary_after(&server, 5).await;
    let report = &report["canaries"][0];
    assert_eq!(report["events"], 5, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    assert_eq!(report["differing"], 5, "{report}");
    assert_eq!(report["diffs"].as_array().map(Vec::len), Some(3), "max_diffs bounds the list: {report}");
    assert!(report["diffs"][0]["candidate"]["annotate"]["pattern"].is_object(), "{report}");
    let (rows, total) = server.logs("").await;
    assert_eq!(total, 5);
    assert!(rows.iter().all(|r| r["level"] == "WARNING"), "outputs saw only the active version: {rows:?}");

    // An identical candidate agrees on every event; discarding it stops it.
    let (status, _) =
        server.send_json(Method::POST, "/api/v1/guests/normalize/canary", Some(json!({ "version": same }))).await;
    assert_eq!(status, 200);
    assert_eq!(server.ingest_ndjson(&lines).await.0, 202);
    server.flush().await;
    let report = canary_after(&server, 5).await;
    assert_eq!(
        (report["canaries"][0]["events"].as_u64(), report["canaries"][0]["differing"].as_u64()),
        (Some(5), Some(0)),
        "{report}"
    );

    let (status, reply) = server.send_json(Method::POST, "/api/v1/guests/normalize/canary/promote", None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["activated"][0]["active"], same.as_str());
    let guests = server.guests().await;
    assert!(stage_status(&guests, "normalize")["canary"].is_null(), "{guests}");
    let (status, reply) = server.send_json(Method::DELETE, "/api/v1/guests/normalize/canary", None).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (409, Some("no_canary")), "{reply}");
}
