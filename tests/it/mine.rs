//! `sluice mine`, run as the real binary with the built-in mining guest over a generated log:
//! the CSV the Loghub evaluator reads, the format cutting out the message, lines the format does
//! not match mined whole, and the speed report with the guest's own code timed apart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

const FORMAT: &str = r"\[<Time>\] <Level> <Component>: <Content>";

/// 300 lines from three wordings with varying values, and one line outside the format.
fn log() -> (String, BTreeMap<usize, &'static str>) {
    let mut text = String::new();
    let mut expected = BTreeMap::new();
    for i in 0..300usize {
        let line = i + 1;
        let (message, template) = match i % 3 {
            0 => (
                format!("Connection from 10.0.{}.{} closed after {} ms", i % 7, i % 200, i * 13),
                "Connection from <*> closed after <*> ms",
            ),
            1 => (
                format!("Received block blk_{} of size {}", 1_000_000 + i * 7919, 4096 + i),
                "Received block <*> of size <*>",
            ),
            _ => (format!("user=u{} logged in from /srv/app/{}", i % 11, i % 5), "user=<*> logged in from <*>"),
        };
        let _ = writeln!(text, "[10:00:{:02}] INFO net.Server: {message}", i % 60);
        expected.insert(line, template);
    }
    text.push_str("garbage without the format 42\n");
    expected.insert(301, "garbage without the format <*>");
    (text, expected)
}

#[test]
fn mines_a_file_into_the_evaluators_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, expected) = log();
    let file = dir.path().join("app.log");
    std::fs::write(&file, text).expect("write log");
    let csv = dir.path().join("out.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("mine")
        .arg(&file)
        .args(["--format", FORMAT, "--out"])
        .arg(&csv)
        .args(["--top", "3", "--split-time", "--batch", "64"])
        .env("SLUICE_LOG", "warn")
        .env("XDG_CACHE_HOME", dir.path())
        .output()
        .expect("run sluice mine");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sluice mine failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));

    let written = std::fs::read_to_string(&csv).expect("csv written");
    let mut rows = written.lines();
    assert_eq!(rows.next(), Some("LineId,EventTemplate"));
    let got: BTreeMap<usize, String> = rows
        .map(|row| {
            let (id, template) = row.split_once(',').unwrap_or_else(|| panic!("bad row {row}"));
            (id.parse().unwrap_or_else(|_| panic!("bad line id in {row}")), template.to_string())
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "one row per line");
    for (line, template) in &expected {
        assert_eq!(got.get(line).map(String::as_str), Some(*template), "line {line}");
    }

    assert!(stdout.starts_with("301 lines, 4 patterns (1 lines did not match the format"), "{stdout}");
    let rate = |prefix: &str| -> f64 {
        let line = stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no `{prefix}`:\n{stdout}"));
        line[prefix.len()..].split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    };
    let (calls, code) = (rate("guest: "), rate("guest code: "));
    assert!(calls > 0.0 && code >= calls, "the guest's own code is part of each call: {calls} vs {code}\n{stdout}");
    // The three largest patterns are listed, 100 lines each.
    assert_eq!(stdout.lines().filter(|l| l.trim_start().starts_with("100 ")).count(), 3, "{stdout}");
}
