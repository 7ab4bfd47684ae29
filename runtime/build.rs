//! Builds the guests in `../guests` (a separate cargo workspace) for `wasm32-wasip2`, so the
//! standard guests can be embedded and the test fixtures loaded, and tells the crate where they
//! are through `SLUICE_GUESTS_DIR`. Guests are always built from source, never committed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let guests = manifest.join("../guests");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = guest_target_dir(&out);

    println!("cargo:rerun-if-changed=../guests");
    println!("cargo:rerun-if-changed=../wit");
    println!("cargo:rerun-if-env-changed=SLUICE_SKIP_GUEST_BUILD");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guests).args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"]).arg(&target_dir);
    // The outer build's settings are for the host; none of them may leak into the guest build.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" || key.starts_with("RUSTC") {
            cmd.env_remove(&key);
        }
    }
    if std::env::var_os("SLUICE_SKIP_GUEST_BUILD").is_none() {
        let status = cmd.status().expect("cannot run cargo to build the guests");
        assert!(
            status.success(),
            "building the guests failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
        );
    }
    let dir = target_dir.join("wasm32-wasip2/release");
    for name in ["normalize", "mine", "enrich", "alert", "hostile"] {
        let wasm = dir.join(format!("{name}.wasm"));
        assert!(wasm.is_file(), "guest {} was not built", wasm.display());
    }
    println!("cargo:rustc-env=SLUICE_GUESTS_DIR={}", dir.display());
}

/// One target directory for everything: the guests build under `<target>/guests`, beside the
/// host's profiles, whatever profile or target the host build uses.
fn guest_target_dir(out: &Path) -> PathBuf {
    // OUT_DIR is <target>[/<triple>]/<profile>/build/<pkg>/out.
    let profile_dir = out.ancestors().find(|p| p.file_name().is_some_and(|n| n == "build")).and_then(Path::parent);
    let mut target = profile_dir.and_then(Path::parent).unwrap_or(out).to_path_buf();
    if target.join("CACHEDIR.TAG").exists() || target.file_name().is_some_and(|n| n == "target") {
        return target.join("guests");
    }
    // A cross build: step out of the <triple> directory too.
    target.pop();
    target.join("guests")
}
