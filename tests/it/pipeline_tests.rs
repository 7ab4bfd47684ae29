//! Pipeline test cases (`tests:` in a pipeline file, run by `sluice test`): every shipped pipeline
//! carries passing tests; a wrong expectation fails with a report naming the path, the expected
//! and the actual value; dead letters (deadline, trap, memory, refusal) and drops are told apart
//! under the file's own limits; cases never share guest state.

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice::testing::{self, FileReport, Mismatch, Runner};

use crate::helpers::{DEFAULT_PIPELINE as STANDARD_STAGES, fixture};

/// Writes `yaml` as `p.yaml` in `dir`.
fn write_pipeline(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("p.yaml");
    std::fs::write(&path, yaml).expect("write pipeline");
    path
}

fn run(yaml: &str) -> FileReport {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_pipeline(dir.path(), yaml);
    testing::run_file(&path, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Each failed expectation of the case `name`: its input and what differed.
fn failures(report: &FileReport, name: &str) -> Vec<(usize, Vec<Mismatch>)> {
    let case = report.cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}: {report}"));
    case.failures.iter().map(|f| (f.input, f.mismatches.clone())).collect()
}

fn mismatch(path: Option<&str>, expected: &str, got: &str) -> Mismatch {
    Mismatch { path: path.map(str::to_string), expected: expected.to_string(), got: got.to_string() }
}

#[test]
fn every_shipped_pipeline_has_tests_and_they_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines");
    let runner = Runner::new(None).expect("wasm engine");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("pipelines dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let report = runner.run_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!report.cases.is_empty(), "{} has no test cases", path.display());
        assert_eq!(report.failed(), 0, "{report}");
        files += 1;
    }
    assert!(files >= 1, "no pipelines in {}", dir.display());
}

#[test]
fn a_wrong_expectation_fails_with_the_path_the_expected_and_the_actual_value() {
    let yaml = format!(
        "{STANDARD_STAGES}tests:
  - name: right
    input: ['{{\"message\": \"User 1 logged in\", \"level\": \"warn\"}}']
    expect: [{{input: 0, output: {{level: WARNING}}}}]
  - name: wrong
    input:
      - '{{\"message\": \"User 1 logged in\", \"level\": \"warn\", \"metadata\": {{\"ip\": \"10.0.0.1\"}}}}'
    expect:
      - input: 0
        output:
          level: ERROR
          message: User 1 logged in
          pattern.template: {{matches: \"^User <\\\\*> logged out$\"}}
          attributes.ip: {{absent: true}}
"
    );
    let report = run(&yaml);
    assert_eq!((report.passed(), report.failed()), (1, 1), "{report}");
    assert_eq!(
        failures(&report, "wrong"),
        [(
            0,
            vec![
                mismatch(Some("level"), "\"ERROR\"", "\"WARNING\""),
                mismatch(Some("pattern.template"), "a match for /^User <\\*> logged out$/", "\"User <*> logged in\""),
                mismatch(Some("attributes.ip"), "absent", "\"10.0.0.1\""),
            ]
        )]
    );
    let text = report.to_string();
    let file = report.file.display();
    assert!(text.contains(&format!("ok   {file}: right\n")), "{text}");
    assert!(text.contains(&format!("FAIL {file}: wrong\n  input 0:\n")), "{text}");
    assert!(text.contains("    level: expected \"ERROR\", got \"WARNING\"\n"), "{text}");
    assert!(text.contains("    attributes.ip: expected absent, got \"10.0.0.1\"\n"), "{text}");
    // The actual event, whole, as pretty JSON.
    assert!(text.contains("    actual:\n      {\n        \"id\": "), "{text}");
    assert!(text.contains("        \"message\": \"User 1 logged in\",\n"), "{text}");
}

#[test]
fn the_command_prints_a_summary_and_fails_on_a_failure_or_a_file_without_tests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let failing = write_pipeline(
        dir.path(),
        &format!(
            "{STANDARD_STAGES}tests:
  - name: wrong level
    input: [plain line]
    expect: [{{input: 0, output: {{level: ERROR}}}}]
"
        ),
    );
    let untested = dir.path().join("untested.yaml");
    std::fs::write(&untested, STANDARD_STAGES).expect("write");
    let sluice = |files: &[&Path]| {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("test")
            .args(files)
            .env("SLUICE_LOG", "error")
            .output()
            .expect("run")
    };

    let out = sluice(&[&failing]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("    level: expected \"ERROR\", got \"INFO\"\n"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("0 passed, 1 failed"), "{stdout}");

    let out = sluice(&[&untested]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("untested.yaml: no test cases"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().last(), Some("0 passed, 0 failed, 1 file could not run"));

    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/default.yaml");
    let out = sluice(&[&shipped]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.lines().last().is_some_and(|l| l.ends_with(" passed, 0 failed")), "{stdout}");
}

/// Normalize, then hostile stages under tight limits, each misbehaving on its own trigger.
fn hostile_pipeline(tests: &str) -> String {
    let hostile = fixture("hostile");
    let stage = |name: &str, mode: &str| {
        format!(
            "  - name: {name}
    guest: {}
    config: {{trigger: {name}-me, mode: {mode}}}
    limits: {{deadline: 300ms, memory_mib: 32}}
",
            hostile.display()
        )
    };
    format!(
        "inputs: [{{http: {{}}}}]
stages:
  - name: normalize
    guest: normalize
{}{}{}{}outputs: [{{libsql: {{}}}}]
tests:
{tests}",
        stage("loop", "loop"),
        stage("trap", "trap"),
        stage("bomb", "membomb"),
        stage("refuse", "fail"),
    )
}

const HOSTILE_INPUT: &str = "    input:
      - {message: before}
      - {message: please loop-me now}
      - {message: please trap-me now}
      - {message: please bomb-me now}
      - {message: please refuse-me}
      - {message: after}
";

#[test]
fn dead_letters_under_the_files_limits_and_drops_are_detected() {
    let report = run(&hostile_pipeline(&format!(
        "  - name: right
{HOSTILE_INPUT}    expect:
      - {{input: 0, output: {{message: before}}}}
      - {{input: 1, dead_lettered: {{stage: loop, reason: deadline of 300ms exceeded}}}}
      - {{input: 2, dead_lettered: {{stage: trap, reason: {{matches: '^guest trapped: .*unreachable'}}}}}}
      - {{input: 3, dead_lettered: {{stage: bomb, reason: {{matches: '^memory limit of 33554432 bytes exceeded'}}}}}}
      - {{input: 4, dead_lettered: {{stage: refuse, reason: 'hostile guest refused: refuse-me'}}}}
      - {{input: 5, output: {{message: after}}}}
  - name: wrong
{HOSTILE_INPUT}    expect:
      - {{input: 0, dropped: true}}
      - {{input: 1, output: {{message: please loop-me now}}}}
      - {{input: 2, dead_lettered: {{stage: loop}}}}
      - {{input: 4, dropped: true}}
      - {{input: 5, dead_lettered: true}}
"
    )));
    assert!(report.cases[0].passed(), "{report}");
    assert_eq!(
        failures(&report, "wrong"),
        [
            (0, vec![mismatch(None, "no event (dropped)", "one event")]),
            (1, vec![mismatch(None, "one event", "dead-lettered by stage `loop`")]),
            (2, vec![mismatch(Some("dead_lettered.stage"), "\"loop\"", "\"trap\"")]),
            (4, vec![mismatch(None, "no event (dropped)", "dead-lettered by stage `refuse`")]),
            (5, vec![mismatch(None, "dead-lettered", "one event")]),
        ]
    );
    let text = report.to_string();
    assert!(text.contains("      dead letter from stage `loop` (hostile@"), "{text}");
    assert!(text.contains("): deadline of 300ms exceeded\n"), "{text}");
}

#[test]
fn a_guest_refusing_its_config_fails_the_case_with_its_message() {
    let yaml = format!(
        "inputs: [{{http: {{}}}}]
stages:
  - name: h
    guest: {}
    config: {{trigger: x, mode: explode}}
outputs: [{{libsql: {{}}}}]
tests:
  - name: init
    input: [a]
    expect: [{{input: 0, output: {{}}}}]
",
        fixture("hostile").display()
    );
    let report = run(&yaml);
    let error = report.cases[0].setup_error.as_deref().unwrap_or_else(|| panic!("{report}"));
    assert!(error.starts_with("stage `h`: guest init failed:") && error.contains("explode"), "{error}");
    assert!(report.to_string().contains("FAIL "), "{report}");
}

#[test]
fn cases_do_not_share_guest_state() {
    let report = run(&format!(
        "{STANDARD_STAGES}tests:
  - name: first
    input: [cache warmed for users, cache warmed for orders, cache warmed for carts, cache warmed for tokens, cache warmed for sessions]
    expect: [{{input: 4, output: {{pattern.template: cache warmed for <*>}}}}]
  - name: second, with a miner that has seen nothing
    input: [cache warmed for orders]
    expect: [{{input: 0, output: {{pattern.template: cache warmed for orders}}}}]
"
    ));
    assert_eq!(report.failed(), 0, "{report}");
}
