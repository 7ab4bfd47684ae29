use std::path::Path;

use super::{ScaffoldError, component_path, create, pinned_toolchain, render, validate_name};
use crate::config::Pipeline;

fn file<'a>(files: &'a [super::File], path: &str) -> &'a str {
    files.iter().find(|f| f.path == Path::new(path)).map(|f| f.contents.as_str()).unwrap_or_else(|| panic!("no {path}"))
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

#[test]
fn names_must_be_guest_names_and_crate_names() {
    for good in ["redact", "my-guest", "geo_ip2", "a"] {
        validate_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in ["", "My", "-x", "a/b", "..", "7zip", "std", "fn", "self", "normalize", "mine", "serde", "wit-bindgen"] {
        assert!(matches!(validate_name(bad), Err(ScaffoldError::InvalidName(_))), "{bad:?} was accepted");
    }
}

#[test]
fn every_placeholder_is_filled_and_names_are_spelled_right() {
    let files = render("my-guest").expect("render");
    for f in &files {
        assert!(!f.contents.contains("{{"), "{} has an unfilled placeholder", f.path.display());
    }
    let cargo = file(&files, "Cargo.toml");
    assert!(cargo.contains("name = \"my-guest\""), "{cargo}");
    assert!(cargo.contains(&format!("rust-version = \"{}\"", pinned_toolchain())), "{cargo}");
    assert!(cargo.contains(r#"crate-type = ["cdylib", "rlib"]"#));
    assert!(cargo.contains("\n[workspace]\n"), "the crate must be its own workspace");
    let lib = file(&files, "src/lib.rs");
    assert!(lib.contains("world: \"stage-guest\"") && lib.contains("path: \"wit\""));
    assert_eq!(lib.matches("generate!").count(), 1);
    assert!(lib.contains("#[cfg(target_arch = \"wasm32\")]\nexport!(Stage);"));
    assert_eq!(component_path("my-guest"), "target/wasm32-wasip2/release/my_guest.wasm");
    assert!(file(&files, "pipeline.yaml").contains(&component_path("my-guest")));
    assert!(file(&files, "README.md").contains("my_guest.wasm"));
    assert_eq!(file(&files, ".gitignore").trim(), "/target");
}

#[test]
fn the_contract_and_toolchain_match_the_repository() {
    let files = render("g").expect("render");
    let dir = repo("wit/pipeline-0.1.1");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("wit dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "wit") {
            let name = path.file_name().expect("name").to_string_lossy().into_owned();
            let expected = std::fs::read_to_string(&path).expect("read wit");
            assert_eq!(file(&files, &format!("wit/{name}")), expected, "{name} is not embedded as it is");
            count += 1;
        }
    }
    assert_eq!(files.iter().filter(|f| f.path.starts_with("wit")).count(), count, "a WIT file is missing");

    let toolchain = file(&files, "rust-toolchain.toml");
    // The channel doubles as the crate's `rust-version`, so it must be a plain version number.
    assert!(
        pinned_toolchain().split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())),
        "the repository's channel `{}` is not a version number",
        pinned_toolchain()
    );
    assert!(toolchain.contains(&format!("channel = \"{}\"", pinned_toolchain())), "{toolchain}");
    assert!(toolchain.contains("wasm32-wasip2"));

    // The same bindings generator as the guests in this repository.
    let guests = std::fs::read_to_string(repo("guests/Cargo.toml")).expect("guests manifest");
    let line = |text: &str| text.lines().find(|l| l.starts_with("wit-bindgen =")).map(str::to_owned);
    assert_eq!(line(file(&files, "Cargo.toml")), line(&guests));
}

#[test]
fn the_pipeline_parses_once_the_component_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = create("my-guest", &dir.path().join("my-guest")).expect("create");
    assert!(written.iter().any(|p| p == Path::new("src/lib.rs")));
    let crate_dir = dir.path().join("my-guest");
    let component = crate_dir.join(component_path("my-guest"));
    std::fs::create_dir_all(component.parent().expect("parent")).expect("mkdir");
    std::fs::write(&component, b"not built in this test").expect("write");
    let pipeline = Pipeline::load(&crate_dir.join("pipeline.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let stage = pipeline.config.stages.iter().find(|s| s.name == "my-guest").expect("the guest's stage");
    assert_eq!(
        pipeline.guest_source(stage),
        crate::config::GuestSource::File(crate_dir.join(component_path("my-guest")))
    );
    assert!(!pipeline.config.tests.is_empty(), "the pipeline carries test cases");
}

#[test]
fn an_existing_directory_is_never_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("g");
    std::fs::create_dir(&target).expect("mkdir");
    std::fs::write(target.join("keep.txt"), "mine").expect("write");
    assert!(matches!(create("g", &target), Err(ScaffoldError::Exists(_))));
    assert_eq!(std::fs::read_dir(&target).expect("list").count(), 1);
    assert!(matches!(create("Bad", &dir.path().join("bad")), Err(ScaffoldError::InvalidName(_))));
    assert!(!dir.path().join("bad").exists(), "nothing is created for an invalid name");
}
