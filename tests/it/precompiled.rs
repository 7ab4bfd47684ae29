//! Guests compiled ahead of time for a runtime-only build (`sluice guest precompile`): they load
//! without compiling, and an artifact made for another target or engine configuration, or a
//! missing one, is refused by a host that may not compile, with a message naming the file and the
//! command that makes the right one.

use std::path::Path;
use std::process::Command;

use serde_json::json;
use sluice::wasm::{HOST_TARGET, LoadError, WasmHost, WasmOptions, precompile, precompiled_name};

use crate::helpers::{DEFAULT_PIPELINE, TestServer, builtin};

fn no_compiler(cache: &Path, precompiled: &Path) -> WasmHost {
    WasmHost::open(WasmOptions {
        cache_dir: cache.to_path_buf(),
        precompiled_dir: Some(precompiled.to_path_buf()),
        compile: false,
    })
    .expect("engine")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_host_without_a_compiler_runs_what_was_precompiled_for_it_and_refuses_the_rest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, dir) = (tmp.path().join("cache"), tmp.path().join("precompiled"));
    std::fs::create_dir_all(&dir).expect("dir");
    let put =
        |bytes: &[u8], artifact: Vec<u8>| std::fs::write(dir.join(precompiled_name(bytes)), artifact).expect("write");
    let (normalize, mine, alert) = (builtin("normalize"), builtin("mine"), builtin("alert"));
    put(&normalize, precompile(&normalize, None).expect("precompile for this machine"));
    put(&mine, precompile(&mine, Some("aarch64-unknown-linux-gnu")).expect("precompile for aarch64"));
    // Another engine configuration: no epoch interruption, so deadlines could not be enforced.
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let other = wasmtime::Engine::new(&config).expect("engine");
    put(&alert, other.precompile_component(&alert).expect("precompile"));

    let host = no_compiler(&cache, &dir);
    host.load("normalize", &normalize).expect("a guest precompiled for this machine loads");
    assert!(files_in(&cache).is_empty(), "nothing was compiled or cached: {:?}", files_in(&cache));

    let foreign = host.load("mine", &mine).map(|_| ()).expect_err("an aarch64 artifact is refused");
    let message = foreign.to_string();
    assert!(matches!(foreign, LoadError::Precompiled { .. }), "{message}");
    assert!(message.contains("aarch64") && message.contains(&precompiled_name(&mine)), "{message}");
    assert!(message.contains(&format!("sluice guest precompile --target {HOST_TARGET}")), "{message}");

    let configured = host.load("alert", &alert).map(|_| ()).expect_err("another configuration is refused");
    assert!(matches!(configured, LoadError::Precompiled { .. }), "{configured}");
    assert!(configured.to_string().contains("epoch"), "the reason names the setting: {configured}");

    let enrich = builtin("enrich");
    let missing = host.load("enrich", &enrich).map(|_| ()).expect_err("nothing precompiled");
    assert!(matches!(missing, LoadError::NoCompiler { .. }), "{missing}");
    assert!(missing.to_string().contains(&dir.join(precompiled_name(&enrich)).display().to_string()), "{missing}");

    // A host that may compile uses the artifact it can, and compiles past the one it cannot.
    let compiling =
        WasmHost::open(WasmOptions { precompiled_dir: Some(dir.clone()), ..WasmOptions::cached(cache.clone()) })
            .expect("engine");
    compiling.load("mine", &mine).expect("compiled instead");
    assert_eq!(files_in(&cache).len(), 1, "the compiled guest is cached: {:?}", files_in(&cache));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_precompile_command_writes_what_a_server_runs_without_compiling() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("precompiled");
    let run = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["guest", "precompile", "--builtin", "--out"])
        .arg(&out)
        .env("SLUICE_LOG", "warn")
        .output()
        .expect("run sluice");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    let mut expected: Vec<String> =
        ["normalize", "mine", "enrich", "alert"].iter().map(|n| precompiled_name(&builtin(n))).collect();
    expected.sort();
    assert_eq!(files_in(&out), expected, "{stdout}");
    assert!(stdout.contains(&format!("for {HOST_TARGET}")), "{stdout}");

    // A host that may not compile loads every one of them.
    let host = no_compiler(&tmp.path().join("cache"), &out);
    for name in ["normalize", "mine", "enrich", "alert"] {
        host.load(name, &builtin(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    // A server given the directory runs the pipeline from it: events flow, nothing is compiled.
    let server = TestServer::start_precompiled(DEFAULT_PIPELINE, &out).await;
    assert_eq!(server.ingest_ndjson(&[json!({"message": "user 7 logged in", "level": "warn"})]).await.0, 202);
    server.flush().await;
    let (rows, _) = server.logs("").await;
    assert_eq!((rows[0]["level"].as_str(), rows[0]["pattern_id"].is_string()), (Some("WARNING"), true), "{rows:?}");
    assert!(files_in(&server.data.path().join("data/cache")).is_empty(), "the server compiled a guest");

    let bad = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["guest", "precompile", "--target", "mips-unknown-nowhere", "--builtin", "--out"])
        .arg(tmp.path().join("nowhere"))
        .output()
        .expect("run sluice");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mips-unknown-nowhere"), "{:?}", bad);
}
