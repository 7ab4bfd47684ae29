//! Builds the guests in `../guests` (a separate cargo workspace) for `wasm32-wasip2`, so the
//! standard guests can be embedded and the test fixtures loaded, and tells the crate where they
//! are through `SLUICE_GUESTS_DIR`; and builds the dashboard in `../ui` with npm into
//! `../ui/dist`, which `api/ui.rs` embeds. Both are always built from source, never committed.
//! `SLUICE_SKIP_GUEST_BUILD` / `SLUICE_SKIP_UI_BUILD` use what an earlier build left instead.

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
    // The target triple, which precompiled guests must have been made for.
    println!("cargo:rustc-env=SLUICE_TARGET={}", std::env::var("TARGET").expect("cargo sets TARGET"));
    build_dashboard(&manifest.join("../ui"));
}

/// `npm ci` when the lock file is newer than the installed packages, then `npm run build`.
fn build_dashboard(ui: &Path) {
    for input in ["src", "public", "index.html", "build.mjs", "package.json", "package-lock.json", "tsconfig.json"] {
        println!("cargo:rerun-if-changed=../ui/{input}");
    }
    println!("cargo:rerun-if-env-changed=SLUICE_SKIP_UI_BUILD");
    if std::env::var_os("SLUICE_SKIP_UI_BUILD").is_none() {
        let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let installed = modified(ui.join("node_modules/.package-lock.json"));
        if installed.is_none() || installed < modified(ui.join("package-lock.json")) {
            npm(ui, &["ci", "--no-audit", "--no-fund"]);
        }
        npm(ui, &["run", "build"]);
    }
    let index = ui.join("dist/index.html");
    let page = std::fs::read(&index).unwrap_or_else(|e| {
        panic!("the dashboard was not built ({}: {e}); run `npm ci && npm run build` in ui/", index.display())
    });
    // The page names the hashed assets, so its digest changes whenever they do: a new value makes
    // cargo recompile the crate and embed the new files.
    use std::hash::{Hash, Hasher};
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    page.hash(&mut digest);
    println!("cargo:rustc-env=SLUICE_UI_DIGEST={:016x}", digest.finish());
}

fn npm(dir: &Path, args: &[&str]) {
    let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".into());
    let status = Command::new(&npm).current_dir(dir).args(args).status().unwrap_or_else(|e| {
        panic!("cannot run `{npm}` to build the dashboard ({e}); install Node.js 18 or newer with npm (scripts/setup.sh does)")
    });
    assert!(status.success(), "`npm {}` in ui/ failed", args.join(" "));
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
