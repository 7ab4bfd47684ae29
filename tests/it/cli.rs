//! The `sluice guest` commands, run as the real binary against a Sluice in this process: an
//! upload shows up in the list, a refused request exits 1 with the server's message, an absent
//! server is named, and `guest new` writes a complete crate (built by `scripts/test-scaffold.sh`).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::helpers::{DEFAULT_PIPELINE, TestServer, fixture};

/// Runs `sluice ARGS…` off the async runtime, so the in-process server keeps serving meanwhile.
async fn sluice(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || sluice_blocking(&args)).await.expect("join")
}

fn sluice_blocking(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env_remove("SLUICE_SERVER")
        .env_remove("SLUICE_API_TOKEN")
        .env("SLUICE_LOG", "warn")
        .output()
        .expect("run sluice")
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_guest_is_listed() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let component = fixture("hostile").display().to_string();
    let push = sluice(args(&["guest", "push", "hostile", &component, "--server", &server.base, "--json"])).await;
    assert!(push.status.success(), "push failed: {}", stderr(&push));
    let pushed: Value = serde_json::from_slice(&push.stdout).expect("push --json prints JSON");
    let version = pushed["version"].as_str().expect("version").to_string();
    assert_eq!(version.len(), 12, "{pushed}");
    assert_eq!(pushed["name"], "hostile");

    // Pushing the same bytes again is not an error.
    let again = sluice(args(&["guest", "push", "hostile", &component, "--server", &server.base])).await;
    assert!(again.status.success(), "second push: {}", stderr(&again));
    assert!(stdout(&again).contains(&version), "{}", stdout(&again));

    let list = sluice(args(&["guest", "list", "--server", &server.base])).await;
    assert!(list.status.success(), "list failed: {}", stderr(&list));
    let text = stdout(&list);
    let row = text.lines().find(|l| l.starts_with("hostile ")).unwrap_or_else(|| panic!("no hostile row:\n{text}"));
    assert!(row.contains(&version) && row.contains("upload"), "{row}");
    assert!(text.lines().any(|l| l.starts_with("STAGE ")), "the stages table is shown:\n{text}");

    let list = sluice(args(&["guest", "list", "--server", &server.base, "--json"])).await;
    let reply: Value = serde_json::from_slice(&list.stdout).expect("list --json prints JSON");
    let guests = reply["guests"].as_array().expect("guests");
    let hostile = guests.iter().find(|g| g["name"] == "hostile").expect("hostile listed");
    assert!(hostile["versions"].as_array().expect("versions").iter().any(|v| v["version"] == json!(version)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_activation_exits_1_with_the_servers_message() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let (status, reply) =
        server.post("/api/v1/guests/normalize/activate", "application/json", r#"{"version": "000000000000"}"#).await;
    assert!(status >= 400, "{status} {reply}");
    let message = reply["error"]["message"].as_str().expect("error message").to_string();
    let code = reply["error"]["code"].as_str().expect("error code").to_string();

    let out = sluice(args(&["guest", "activate", "normalize", "000000000000", "--server", &server.base])).await;
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(&message) && err.contains(&code), "expected `{message}` ({code}) in: {err}");
}

#[test]
fn an_absent_server_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    // The listener is dropped here, so nothing answers on the port.
    let url = format!("http://127.0.0.1:{port}");
    let out = sluice_blocking(&args(&["guest", "list", "--server", &url]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("is Sluice running at {url}?")), "{err}");
}

#[test]
fn guest_new_writes_a_complete_crate_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let crate_dir = dir.path().join("my-guest");
    let dir_arg = crate_dir.display().to_string();
    let out = sluice_blocking(&args(&["guest", "new", "my-guest", "--dir", &dir_arg]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("cargo build --release --target wasm32-wasip2"), "{}", stdout(&out));

    for file in ["Cargo.toml", "rust-toolchain.toml", ".gitignore", "README.md", "pipeline.yaml", "src/lib.rs"] {
        assert!(crate_dir.join(file).is_file(), "{file} missing");
    }
    let repo_wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/pipeline-0.1.1");
    for entry in std::fs::read_dir(&repo_wit).expect("wit dir") {
        let path = entry.expect("entry").path();
        let copy = crate_dir.join("wit").join(path.file_name().expect("name"));
        assert_eq!(std::fs::read(&copy).ok(), std::fs::read(&path).ok(), "{} differs", copy.display());
    }
    let cargo = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(cargo.contains("name = \"my-guest\""), "{cargo}");
    let pipeline = std::fs::read_to_string(crate_dir.join("pipeline.yaml")).expect("pipeline.yaml");
    assert!(pipeline.contains("guest: target/wasm32-wasip2/release/my_guest.wasm"), "{pipeline}");
    assert!(pipeline.contains("\ntests:\n"), "{pipeline}");

    let again = sluice_blocking(&args(&["guest", "new", "my-guest", "--dir", &dir_arg]));
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));

    let bad =
        sluice_blocking(&args(&["guest", "new", "My Guest", "--dir", &dir.path().join("x").display().to_string()]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("invalid guest name"), "{}", stderr(&bad));
    assert!(!dir.path().join("x").exists());
}
