//! Matching the signals an entry made the stages emit against its expectation.
//!
//! Each listed signal must be matched by a distinct emitted signal (a maximum bipartite matching,
//! so the order of the list never decides whether it holds); signals nobody listed are allowed,
//! unless `no_signals` names their kind. Pure functions, like `expect`: nothing runs or prints.

use serde_json::Value;

use super::expect::{Mismatch, describe, holds};
use crate::config::testcase::signals::kind_name;
use crate::config::testcase::{SignalCheck, SignalExpectation};
use crate::event::{Signal, SignalKind};

/// Every way `emitted` differs from `expected`; empty when it holds.
pub fn check(expected: &SignalExpectation, emitted: &[Signal]) -> Vec<Mismatch> {
    let mut found = Vec::new();
    for kind in &expected.none_of {
        let n = emitted.iter().filter(|s| s.kind == *kind).count();
        if n > 0 {
            found.push(Mismatch {
                path: Some("no_signals".into()),
                expected: format!("no `{}` signal", kind_name(*kind)),
                got: count(n, *kind),
            });
        }
    }
    let bodies: Vec<Value> = emitted.iter().map(|s| Value::Object(s.body.clone())).collect();
    let candidates: Vec<Vec<usize>> = expected
        .listed
        .iter()
        .map(|check| (0..emitted.len()).filter(|&i| failures(check, &emitted[i], &bodies[i]).is_empty()).collect())
        .collect();
    let assigned = assign(&candidates, emitted.len());
    for (j, check) in expected.listed.iter().enumerate() {
        if assigned[j].is_none() {
            found.extend(explain(j, check, &candidates[j], emitted, &bodies));
        }
    }
    found
}

/// Why listed signal `j` found no emitted signal of its own.
fn explain(j: usize, check: &SignalCheck, candidates: &[usize], emitted: &[Signal], bodies: &[Value]) -> Vec<Mismatch> {
    let kind = kind_name(check.kind);
    let path = format!("signals[{j}]");
    let same_kind: Vec<usize> = (0..emitted.len()).filter(|&i| emitted[i].kind == check.kind).collect();
    if same_kind.is_empty() {
        let got = format!("no `{kind}` signal among {}", signals(emitted.len()));
        return vec![Mismatch { path: Some(path), expected: format!("an `{kind}` signal"), got }];
    }
    if !candidates.is_empty() {
        let got = format!("{} that match, each taken by another listed signal", signals(candidates.len()));
        let expected = "a matching signal of its own (each listed signal needs a distinct one)".to_string();
        return vec![Mismatch { path: Some(path), expected, got }];
    }
    // The emitted signal of that kind that comes closest: its differences are what to fix.
    let closest =
        same_kind.iter().map(|&i| (i, failures(check, &emitted[i], &bodies[i]))).min_by_key(|(_, failed)| failed.len());
    let Some((i, failed)) = closest else { return Vec::new() };
    let mut found = vec![Mismatch {
        path: Some(path.clone()),
        expected: format!("an `{kind}` signal meeting every check"),
        got: format!("no match among {}; the closest, [{i}], differs below", count(same_kind.len(), check.kind)),
    }];
    found.extend(failed.into_iter().map(|m| Mismatch { path: m.path.map(|p| format!("{path}.{p}")), ..m }));
    found
}

/// The checks of `check` that `signal` fails (its kind aside), paths relative to the signal.
fn failures(check: &SignalCheck, signal: &Signal, body: &Value) -> Vec<Mismatch> {
    if signal.kind != check.kind {
        return vec![Mismatch {
            path: Some("kind".into()),
            expected: kind_name(check.kind).into(),
            got: kind_name(signal.kind).into(),
        }];
    }
    let stage = Value::String(signal.stage.clone());
    let stage = check.stage.iter().map(|c| ("stage".to_string(), c, Some(&stage), true));
    let body = check.body.iter().map(|(path, c)| (path.to_string(), c, path.resolve(body), false));
    stage
        .chain(body)
        .filter(|(_, c, actual, text)| !holds(c, *actual, *text))
        .map(|(path, c, actual, _)| Mismatch {
            path: Some(path),
            expected: describe(c),
            got: actual.map_or("absent".into(), Value::to_string),
        })
        .collect()
}

/// For each listed signal, the emitted signal it is matched with, so that as many listed signals
/// as possible are matched (augmenting paths; both sides are small and bounded).
fn assign(candidates: &[Vec<usize>], emitted: usize) -> Vec<Option<usize>> {
    let mut owner: Vec<Option<usize>> = vec![None; emitted];
    for j in 0..candidates.len() {
        let mut seen = vec![false; emitted];
        augment(j, candidates, &mut owner, &mut seen);
    }
    let mut assigned = vec![None; candidates.len()];
    for (i, j) in owner.iter().enumerate() {
        if let Some(j) = j {
            assigned[*j] = Some(i);
        }
    }
    assigned
}

fn augment(j: usize, candidates: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &i in &candidates[j] {
        if seen[i] {
            continue;
        }
        seen[i] = true;
        if owner[i].is_none_or(|k| augment(k, candidates, owner, seen)) {
            owner[i] = Some(j);
            return true;
        }
    }
    false
}

fn count(n: usize, kind: SignalKind) -> String {
    let kind = kind_name(kind);
    if n == 1 { format!("1 `{kind}` signal") } else { format!("{n} `{kind}` signals") }
}

fn signals(n: usize) -> String {
    if n == 1 { "1 signal".into() } else { format!("{n} signals") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An expectation as the file would say it, e.g. `{signals: [...], no_signals: alert}`.
    fn expectation(yaml: &str) -> SignalExpectation {
        let text = format!("input: 0\n{yaml}");
        let parsed: crate::config::testcase::Expectation =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        parsed.signals
    }

    fn signal(kind: SignalKind, body: Value) -> Signal {
        let Value::Object(body) = body else { panic!("a body is an object") };
        Signal { stage: "alert".into(), kind, body, emitted_ns: 1 }
    }

    fn alert(rule: &str, severity: &str) -> Signal {
        signal(SignalKind::Alert, json!({"rule": rule, "severity": severity, "value": 11.0, "event_ids": ["a", "b"]}))
    }

    fn paths(found: &[Mismatch]) -> Vec<&str> {
        found.iter().filter_map(|m| m.path.as_deref()).collect()
    }

    #[test]
    fn listed_signals_match_by_kind_stage_and_body_paths() {
        let expected = expectation(concat!(
            "signals:\n",
            "  - {kind: alert, stage: alert, body.rule: payment-errors, body.severity: critical}\n",
            "  - {kind: alert, body.value: 11, body.event_ids.1: b, body.title: {absent: true}}\n",
        ));
        let emitted = [alert("payment-errors", "critical"), alert("payment-errors", "critical")];
        let found = check(&expected, &emitted);
        assert!(found.is_empty(), "{found:?}");
        let found = check(&expected, &emitted[..1]);
        assert_eq!(paths(&found), ["signals[1]"], "one emitted signal cannot meet two listed ones: {found:?}");
        let mut quiet = alert("payment-errors", "critical");
        quiet.body.remove("event_ids");
        let found = check(&expected, &[alert("payment-errors", "critical"), quiet.clone()]);
        assert!(found.is_empty(), "the first listed signal takes the one without ids: {found:?}");
        let found = check(&expectation("signals: [{kind: alert, body.event_ids.1: b}]\n"), &[quiet]);
        assert_eq!(paths(&found), ["signals[0]", "signals[0].body.event_ids.1"], "{found:?}");
        assert_eq!(found[1].got, "absent");
    }

    #[test]
    fn each_listed_signal_needs_a_distinct_one() {
        let expected = expectation("signals: [{kind: alert}, {kind: alert, body.rule: a}]\n");
        // Greedy matching would give `a` to the first entry and fail the second.
        let found = check(&expected, &[alert("a", "info"), alert("b", "info")]);
        assert!(found.is_empty(), "{found:?}");
        let found = check(&expected, &[alert("a", "info")]);
        assert_eq!(paths(&found), ["signals[1]"], "{found:?}");
        assert!(found[0].got.contains("taken by another listed signal"), "{found:?}");
    }

    #[test]
    fn the_closest_signal_of_the_kind_explains_a_miss() {
        let expected = expectation("signals: [{kind: alert, body.rule: payment-errors, body.severity: critical}]\n");
        let emitted = [
            alert("other", "info"),
            alert("payment-errors", "warning"),
            signal(SignalKind::PatternChanged, json!({"id": "p"})),
        ];
        let found = check(&expected, &emitted);
        assert_eq!(paths(&found), ["signals[0]", "signals[0].body.severity"], "{found:?}");
        assert_eq!(found[0].got, "no match among 2 `alert` signals; the closest, [1], differs below");
        assert_eq!((found[1].expected.as_str(), found[1].got.as_str()), ("\"critical\"", "\"warning\""));
        let found = check(&expected, &emitted[2..]);
        assert_eq!(paths(&found), ["signals[0]"]);
        assert_eq!(found[0].got, "no `alert` signal among 1 signal");
        let found = check(&expectation("signals: [{kind: alert, stage: enrich}]\n"), &emitted);
        assert_eq!(paths(&found), ["signals[0]", "signals[0].stage"], "{found:?}");
    }

    #[test]
    fn no_signals_refuses_the_kinds_it_names() {
        let emitted = [alert("a", "info"), alert("b", "info"), signal(SignalKind::Insight, json!({}))];
        let found = check(&expectation("no_signals: alert\n"), &emitted);
        assert_eq!(paths(&found), ["no_signals"]);
        assert_eq!((found[0].expected.as_str(), found[0].got.as_str()), ("no `alert` signal", "2 `alert` signals"));
        assert!(check(&expectation("no_signals: [pattern-changed]\n"), &emitted).is_empty());
        assert_eq!(check(&expectation("no_signals: true\n"), &emitted).len(), 2);
        assert!(check(&expectation("no_signals: true\n"), &[]).is_empty());
        let found = check(&expectation("signals: [{kind: insight}]\nno_signals: alert\n"), &emitted);
        assert_eq!(paths(&found), ["no_signals"], "the listed insight is there; the alerts are not allowed");
    }
}
