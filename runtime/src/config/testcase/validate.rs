//! Checks that span a test case, run after the whole file parsed.

use std::collections::HashSet;
use std::path::Path;

use super::{TestCase, TestInput};
use crate::config::ConfigError;

/// Checks what spans a case and so cannot be checked while parsing one value: case names are
/// unique and non-empty, a case has entries and expectations, ticks come with a clock and the
/// timeline fits it, and each expectation names an existing entry, once, and no fate for a tick.
/// `text` is the file's text, used to find the offending line.
pub fn validate(file: &Path, text: &str, tests: &[TestCase]) -> Result<(), ConfigError> {
    let tests_line = find_line(text, 0, |l| l.starts_with("tests:"));
    let fail = |line: Option<usize>, key: String, message: String| ConfigError {
        file: file.to_path_buf(),
        line: line.map(|l| l + 1),
        key: Some(key),
        message,
    };
    let mut names = HashSet::new();
    for (i, case) in tests.iter().enumerate() {
        let start = tests_line.map_or(0, |l| l + 1);
        let names_case = |l: &str| !case.name.is_empty() && l.contains("name:") && l.contains(&case.name);
        let case_line = find_line(text, start, names_case).or(tests_line);
        if case.name.trim().is_empty() {
            return Err(fail(case_line, format!("tests[{i}].name"), "a test case needs a name".into()));
        }
        if !names.insert(case.name.as_str()) {
            let again = find_line(text, case_line.map_or(start, |l| l + 1), names_case).or(case_line);
            return Err(fail(again, format!("tests[{i}].name"), format!("test case `{}` is named twice", case.name)));
        }
        if case.input.is_empty() {
            return Err(fail(case_line, format!("tests[{i}].input"), "a test case needs at least one record".into()));
        }
        check_time(case, i, text, case_line, &fail)?;
        if case.expect.is_empty() {
            return Err(fail(
                case_line,
                format!("tests[{i}].expect"),
                "a test case without expectations checks nothing".into(),
            ));
        }
        let mut expected = HashSet::new();
        for (j, expectation) in case.expect.iter().enumerate() {
            let n = expectation.input;
            let earlier = case.expect[..j].iter().filter(|e| e.input == n).count();
            let line = nth_line(text, case_line.unwrap_or(start), earlier, |l| names_input(l, n)).or(case_line);
            let key = format!("tests[{i}].expect[{j}].input");
            let Some(entry) = case.input.get(n) else {
                let message =
                    format!("there is no record {n}: the case has {} (numbered from 0)", entries(&case.input));
                return Err(fail(line, key, message));
            };
            if !expected.insert(n) {
                return Err(fail(line, key, format!("record {n} is expected twice; merge the expectations")));
            }
            if entry.is_tick() && expectation.fate.is_some() {
                let message = format!(
                    "entry {n} is a tick, which has no fate to check; check its `signals` or `no_signals` only"
                );
                return Err(fail(line, format!("tests[{i}].expect[{j}]"), message));
            }
        }
    }
    Ok(())
}

/// Ticks need a clock to move, and every entry's time must fit the clock.
fn check_time(
    case: &TestCase,
    i: usize,
    text: &str,
    case_line: Option<usize>,
    fail: &impl Fn(Option<usize>, String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let from = case_line.unwrap_or(0);
    match &case.clock {
        None => match case.input.iter().position(TestInput::is_tick) {
            Some(k) => {
                let line = find_line(text, from, |l| l.contains("!tick")).or(case_line);
                let message = "a tick moves the case's clock; give the case one, e.g. \
                               `clock: {start: 2026-12-01T12:00:00Z, step: 1s}`";
                Err(fail(line, format!("tests[{i}].input[{k}]"), message.into()))
            }
            None => Ok(()),
        },
        Some(clock) => match clock.timeline(&case.input) {
            Ok(_) => Ok(()),
            Err(message) => {
                let line = find_line(text, from, |l| l.trim_start().starts_with("clock:")).or(case_line);
                Err(fail(line, format!("tests[{i}].clock"), message))
            }
        },
    }
}

/// `2 records`, or `3 entries (2 records, 1 tick)` once there are ticks.
fn entries(input: &[TestInput]) -> String {
    let count = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let ticks = input.iter().filter(|e| e.is_tick()).count();
    let records = count(input.len() - ticks, "record", "records");
    match ticks {
        0 => records,
        _ => format!("{} ({records}, {})", count(input.len(), "entry", "entries"), count(ticks, "tick", "ticks")),
    }
}

/// The 0-based index of the first line at or after `from` for which `pred` holds.
fn find_line(text: &str, from: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
    nth_line(text, from, 0, pred)
}

/// The 0-based index of the `n`-th (0-based) line at or after `from` for which `pred` holds.
fn nth_line(text: &str, from: usize, n: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
    text.lines().enumerate().skip(from).filter(|(_, l)| pred(l)).nth(n).map(|(i, _)| i)
}

/// Whether a line holds `input: n` (block or flow style), not `input: n0`.
pub(super) fn names_input(line: &str, n: usize) -> bool {
    let needle = format!("input: {n}");
    line.match_indices(&needle).any(|(i, _)| !line[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}
