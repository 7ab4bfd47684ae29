use std::path::Path;
use std::time::Duration;

use super::validate::names_input;
use super::*;
use crate::config::{ConfigError, Pipeline};
use crate::event::SignalKind;

const HEAD: &str = "inputs: [{http: {}}]\noutputs: [{libsql: {}}]\ntests:\n";

/// Parses `tests` (appended to a minimal pipeline) and validates it.
fn tests(tests: &str) -> Result<Vec<TestCase>, ConfigError> {
    let text = format!("{HEAD}{tests}");
    let path = Path::new("p.yaml");
    let pipeline = Pipeline::parse(path, &text)?;
    validate(path, &text, &pipeline.config.tests)?;
    Ok(pipeline.config.tests)
}

fn error(text: &str) -> ConfigError {
    match tests(text) {
        Ok(cases) => panic!("expected an error, parsed {cases:?}"),
        Err(e) => e,
    }
}

#[test]
fn full_schema_parses() {
    let cases = tests(concat!(
        "  - name: all of it\n",
        "    input:\n",
        "      - 'plain line'\n",
        "      - {message: hi, level: warn, n: 3, nested: {b: 1, a: [true]}}\n",
        "      - x\n",
        "      - y\n",
        "    expect:\n",
        "      - input: 0\n",
        "        output:\n",
        "          level: WARNING\n",
        "          line: 42\n",
        "          attributes.ip: {absent: true}\n",
        "          attributes.user.name: {equals: {first: a}}\n",
        "          pattern.template: {matches: \"^User <\\\\*> logged in$\"}\n",
        "      - {input: 1, outputs: [{message: a}, {}]}\n",
        "      - {input: 2, dropped: true}\n",
        "      - input: 3\n",
        "        dead_lettered: {stage: mine, reason: {matches: deadline}}\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let case = &cases[0];
    let raw = |i: usize| match &case.input[i] {
        TestInput::Record(record) => record.raw.clone(),
        TestInput::Tick(d) => panic!("entry {i} is a tick of {d:?}"),
    };
    assert_eq!(raw(0), "plain line");
    assert_eq!(raw(1), r#"{"message":"hi","level":"warn","n":3,"nested":{"b":1,"a":[true]}}"#);
    let Some(Fate::Output(fields)) = &case.expect[0].fate else { panic!("{:?}", case.expect[0]) };
    let paths: Vec<String> = fields.0.iter().map(|c| c.path.to_string()).collect();
    assert_eq!(paths, ["level", "line", "attributes.ip", "attributes.user.name", "pattern.template"]);
    assert_eq!(fields.0[3].path, FieldPath::Attribute("user.name".into()));
    assert!(matches!(&fields.0[1].check, Check::Equals(v) if *v == serde_json::json!(42)));
    assert!(matches!(&fields.0[2].check, Check::Absent(true)));
    let Check::Matches(pattern) = &fields.0[4].check else { panic!("{:?}", fields.0[4]) };
    assert!(pattern.is_match("User <*> logged in"));
    assert!(matches!(&case.expect[1].fate, Some(Fate::Outputs(list)) if list.len() == 2));
    assert!(matches!(case.expect[2].fate, Some(Fate::Dropped)));
    assert!(case.expect.iter().all(|e| e.signals.is_empty()));
    let Some(Fate::DeadLettered(dead)) = &case.expect[3].fate else { panic!("{:?}", case.expect[3]) };
    assert!(matches!(&dead.stage, Some(Check::Equals(v)) if v == "mine"));
    assert!(matches!(&dead.reason, Some(Check::Matches(_))));
}

#[test]
fn dead_lettered_true_and_empty_output() {
    let cases = tests(concat!(
        "  - name: t\n",
        "    input: [a, b]\n",
        "    expect:\n",
        "      - {input: 0, dead_lettered: true}\n",
        "      - input: 1\n",
        "        output:\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&cases[0].expect[0].fate, Some(Fate::DeadLettered(d)) if d.stage.is_none() && d.reason.is_none()));
    assert!(matches!(&cases[0].expect[1].fate, Some(Fate::Output(f)) if f.0.is_empty()));
}

#[test]
fn unknown_path_names_line_and_key() {
    let err = error(concat!(
        "  - name: t\n",
        "    input: [a]\n",
        "    expect:\n",
        "      - input: 0\n",
        "        output:\n",
        "          level: INFO\n",
        "          colour: red\n",
    ));
    assert_eq!(err.line, Some(10), "{err}");
    assert_eq!(err.key.as_deref(), Some("tests[0].expect[0].output.colour"), "{err}");
    assert!(err.message.starts_with("unknown field `colour`, expected one of `id`"), "{err}");
    assert!(err.message.contains("`attributes.<key>`"), "{err}");
}

#[test]
fn bad_regex_names_line_and_key() {
    let err = error(concat!(
        "  - name: t\n",
        "    input: [a]\n",
        "    expect:\n",
        "      - input: 0\n",
        "        output:\n",
        "          message: {matches: \"(\"}\n",
    ));
    assert_eq!(err.line, Some(9), "{err}");
    assert_eq!(err.key.as_deref(), Some("tests[0].expect[0].output.message.matches"), "{err}");
    assert_eq!(err.message, "invalid regular expression `(` (unclosed group)", "{err}");
}

#[test]
fn an_expectation_says_exactly_one_thing() {
    let err = error(concat!(
        "  - name: t\n",
        "    input: [a]\n",
        "    expect:\n",
        "      - input: 0\n",
        "        dropped: true\n",
        "        output: {level: INFO}\n",
    ));
    assert_eq!(err.line, Some(7), "{err}");
    assert_eq!(err.key.as_deref(), Some("tests[0].expect[0]"), "{err}");
    assert!(err.message.contains("two things"), "{err}");
    let err = error("  - name: t\n    input: [a]\n    expect:\n      - input: 0\n");
    assert!(err.message.starts_with("say what becomes of record 0"), "{err}");
    let err = error("  - name: t\n    input: [a]\n    expect:\n      - {input: 0, dropped: false}\n");
    assert!(err.message.starts_with("`dropped: false` expects nothing"), "{err}");
    let err = error("  - name: t\n    input: [a]\n    expect:\n      - {input: 0, dead_lettered: false}\n");
    assert!(err.message.starts_with("`dead_lettered: false` expects nothing"), "{err}");
    let err = error("  - name: t\n    input: [a]\n    expect:\n      - {input: 0, outptu: {}}\n");
    assert!(err.message.starts_with("unknown field `outptu`"), "{err}");
}

#[test]
fn malformed_checks_and_records() {
    let err = error(concat!(
        "  - name: t\n",
        "    input: [a]\n",
        "    expect:\n",
        "      - input: 0\n",
        "        output: {level: {matches: a, absent: true}}\n",
    ));
    assert!(err.message.starts_with("a check has exactly one of"), "{err}");
    let err = error("  - name: t\n    input: [a]\n    expect:\n      - input: 0\n        output: {source: ~}\n");
    assert_eq!(err.key.as_deref(), Some("tests[0].expect[0].output.source"), "{err}");
    assert!(err.message.starts_with("null is not a value"), "{err}");
    let err = error(concat!(
        "  - name: t\n",
        "    input: [a]\n",
        "    expect:\n",
        "      - input: 0\n",
        "        output: {level: INFO, level: WARNING}\n",
    ));
    assert!(err.message.contains("`level` is checked twice"), "{err}");
    let err =
        error("  - name: t\n    input:\n      - ok\n      - 42\n    expect:\n      - {input: 0, dropped: true}\n");
    assert_eq!(err.key.as_deref(), Some("tests[0].input[1]"), "{err}");
    assert_eq!(err.line, Some(7), "{err}");
    assert!(err.message.contains("quote it"), "{err}");
}

#[test]
fn record_index_must_exist_once() {
    let err = error(concat!(
        "  - name: first\n",
        "    input: [a]\n",
        "    expect:\n",
        "      - {input: 0, dropped: true}\n",
        "  - name: second\n",
        "    input: [a, b]\n",
        "    expect:\n",
        "      - input: 1\n",
        "        dropped: true\n",
        "      - input: 2\n",
        "        dropped: true\n",
    ));
    assert_eq!(err.key.as_deref(), Some("tests[1].expect[1].input"), "{err}");
    assert_eq!(err.line, Some(13), "{err}");
    assert_eq!(err.message, "there is no record 2: the case has 2 records (numbered from 0)");
    assert!(err.to_string().starts_with("p.yaml:13: tests[1].expect[1].input: there is no record 2"), "{err}");
    let err = error(concat!(
        "  - name: t\n",
        "    input: [a]\n",
        "    expect:\n",
        "      - {input: 0, dropped: true}\n",
        "      - {input: 0, dropped: true}\n",
    ));
    assert_eq!(err.line, Some(8), "{err}");
    assert!(err.message.contains("expected twice"), "{err}");
}

#[test]
fn cases_are_named_once_and_check_something() {
    let case = "    input: [a]\n    expect: [{input: 0, dropped: true}]\n";
    let err = error(&format!("  - name: twin\n{case}  - name: twin\n{case}"));
    assert_eq!((err.line, err.key.as_deref()), (Some(7), Some("tests[1].name")), "{err}");
    let err = error("  - name: t\n    input: []\n    expect: [{input: 0, dropped: true}]\n");
    assert_eq!(err.key.as_deref(), Some("tests[0].input"), "{err}");
    let err = error("  - name: t\n    input: [a]\n    expect: []\n");
    assert_eq!(err.key.as_deref(), Some("tests[0].expect"), "{err}");
    assert_eq!(err.line, Some(4), "{err}");
}

#[test]
fn paths_parse_and_print() {
    for path in ["id", "level", "line", "attributes", "attributes.a.b", "pattern.id", "insight", "insight.k"] {
        assert_eq!(FieldPath::parse(path).map(|p| p.to_string()).as_deref(), Ok(path));
    }
    for bad in ["", "attributes.", "pattern", "pattern.count", "insight.", "Level", "raw"] {
        assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
    }
    assert!(FieldPath::Top("message").is_text() && FieldPath::Pattern("id").is_text());
    assert!(!FieldPath::Top("line").is_text() && !FieldPath::Attribute("k".into()).is_text());
    assert!(names_input("  - {input: 1, dropped: true}", 1) && !names_input("  - input: 12", 1));
}

const CLOCK: &str = "    clock: {start: 2026-12-01T12:00:00Z, step: 10s}\n";

#[test]
fn clock_and_ticks_give_every_entry_a_time() {
    let cases = tests(&format!(
        "  - name: t\n{CLOCK}    input:\n      - a\n      - !tick 10m\n      - {{message: b}}\n      - '!tick 1s'\n    expect:\n      - {{input: 2, dropped: true}}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let case = &cases[0];
    let clock = case.clock.unwrap_or_else(|| panic!("a clock"));
    assert_eq!(clock.step, Duration::from_secs(10));
    let start = 1_796_126_400_000_000_000;
    assert_eq!(clock.start, start, "2026-12-01T12:00:00Z");
    assert_eq!(case.input[1], TestInput::Tick(Duration::from_secs(600)));
    assert_eq!(case.input[3], TestInput::Record(TestRecord { raw: "!tick 1s".into() }), "quoted, it is a record");
    let s = 1_000_000_000;
    let times = clock.timeline(&case.input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(times, [start, start + 600 * s, start + 610 * s, start + 620 * s]);
    let plain = vec![TestInput::Record(TestRecord { raw: "x".into() }); 3];
    assert_eq!(clock.timeline(&plain), Ok(vec![start, start + 10 * s, start + 20 * s]), "record i at start + i*step");
    let first = vec![TestInput::Tick(Duration::from_secs(1)), plain[0].clone()];
    assert_eq!(clock.timeline(&first), Ok(vec![start + s, start + 11 * s]), "a first tick counts from start");
    let cases = tests("  - name: t\n    clock: {start: '2026-12-01T13:00:00+01:00'}\n    input: [a, b]\n    expect: [{input: 0, dropped: true}]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let clock = cases[0].clock.unwrap_or_else(|| panic!("a clock"));
    assert_eq!((clock.start, clock.step), (start, Duration::from_secs(1)), "offsets count; step defaults to 1s");
    assert!(
        tests("  - name: t\n    input: [a]\n    expect: [{input: 0, dropped: true}]\n")
            .is_ok_and(|c| c[0].clock.is_none())
    );
}

#[test]
fn bad_clocks_and_ticks_are_reported_in_place() {
    let case = |clock: &str, input: &str| {
        error(&format!(
            "  - name: t\n{clock}    input:\n      - a\n      - {input}\n    expect:\n      - {{input: 0, dropped: true}}\n"
        ))
    };
    let err = case("", "!tick 5m");
    assert_eq!((err.line, err.key.as_deref()), (Some(7), Some("tests[0].input[1]")), "{err}");
    assert!(err.message.starts_with("a tick moves the case's clock; give the case one"), "{err}");
    let err = case(CLOCK, "!tick soon");
    assert_eq!((err.line, err.key.as_deref()), (Some(8), Some("tests[0].input[1].tick")), "{err}");
    assert!(err.message.starts_with("invalid duration `soon` after `!tick`"), "{err}");
    let err = case(CLOCK, "!tock 5m");
    assert!(err.message.starts_with("unknown tag `!tock`"), "{err}");
    let err = case("    clock: {start: yesterday}\n", "b");
    assert_eq!((err.line, err.key.as_deref()), (Some(5), Some("tests[0].clock.start")), "{err}");
    assert!(err.message.starts_with("invalid start `yesterday`"), "{err}");
    let err = case("    clock: {start: 1970-01-01T00:00:00Z}\n", "b");
    assert!(err.message.contains("after 1970-01-01T00:00:00Z"), "{err}");
    let err = case("    clock: {start: 2026-12-01T12:00:00Z, step: 1s, tick: 1s}\n", "b");
    assert!(err.message.starts_with("unknown field `tick`"), "{err}");
    let err = case("    clock: {start: 2262-04-11T23:47:00Z}\n", "!tick 1h");
    assert_eq!((err.line, err.key.as_deref()), (Some(5), Some("tests[0].clock")), "{err}");
    assert!(err.message.contains("entry 1 would happen after the latest time"), "{err}");
}

#[test]
fn signal_expectations_parse() {
    let cases = tests(&format!(
        concat!(
            "  - name: t\n{}",
            "    input: [a, !tick 1m, b]\n",
            "    expect:\n",
            "      - input: 0\n",
            "        output: {{level: ERROR}}\n",
            "        signals:\n",
            "          - {{kind: alert, stage: alert, body.rule: payment-errors, body.labels.team: {{matches: ^pay}}}}\n",
            "          - {{kind: pattern-changed, body: {{equals: {{id: p}}}}}}\n",
            "        no_signals: insight\n",
            "      - {{input: 1, signals: [{{kind: pattern_changed}}], no_signals: [alert, insight, alert]}}\n",
            "      - {{input: 2, no_signals: true}}\n",
        ),
        CLOCK
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let expect = &cases[0].expect;
    assert!(matches!(expect[0].fate, Some(Fate::Output(_))));
    let listed = &expect[0].signals.listed;
    assert_eq!((listed[0].kind, listed[1].kind), (SignalKind::Alert, SignalKind::PatternChanged));
    assert!(matches!(&listed[0].stage, Some(Check::Equals(v)) if v == "alert"));
    let paths: Vec<String> = listed[0].body.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(paths, ["body.rule", "body.labels.team"]);
    assert_eq!(listed[0].body[1].0, BodyPath(vec!["labels".into(), "team".into()]));
    assert_eq!(listed[1].body[0].0, BodyPath(Vec::new()));
    assert_eq!(expect[0].signals.none_of, [SignalKind::Insight]);
    assert!(expect[1].fate.is_none(), "a tick's expectation checks signals only");
    assert_eq!(expect[1].signals.none_of, [SignalKind::Alert, SignalKind::Insight]);
    assert!(expect[2].fate.is_none() && expect[2].signals.listed.is_empty());
    assert_eq!(expect[2].signals.none_of.len(), 3, "`true`: every kind");
    let body = serde_json::json!({"rule": "r", "event_ids": ["a", "b"], "gone": null});
    let at = |p: Vec<&str>| BodyPath(p.into_iter().map(String::from).collect()).resolve(&body).cloned();
    assert_eq!(at(vec!["event_ids", "1"]), Some(serde_json::json!("b")));
    assert_eq!(at(vec!["event_ids", "2"]), None);
    assert_eq!(at(vec!["gone"]), None, "null is absent");
    assert_eq!(at(vec!["rule", "x"]), None);
}

#[test]
fn bad_signal_expectations_are_reported_in_place() {
    let expectation = |yaml: &str| {
        error(&format!("  - name: t\n{CLOCK}    input: [a, !tick 1m]\n    expect:\n      - input: 0\n{yaml}"))
    };
    let err = expectation("        signals:\n          - {kind: alarm}\n");
    assert_eq!((err.line, err.key.as_deref()), (Some(10), Some("tests[0].expect[0].signals[0].kind")), "{err}");
    assert!(err.message.starts_with("unknown signal kind `alarm`, expected one of `alert`"), "{err}");
    let err = expectation("        signals:\n          - {kind: alert, rule: x}\n");
    assert_eq!(err.key.as_deref(), Some("tests[0].expect[0].signals[0].rule"), "{err}");
    assert!(err.message.starts_with("unknown key `rule` in a signal"), "{err}");
    let err = expectation("        signals: [{body.rule: x}]\n");
    assert!(err.message.starts_with("a signal needs a `kind`"), "{err}");
    let err = expectation("        signals: [{kind: alert, body.a: 1, body.a: 2}]\n");
    assert!(err.message.contains("`body.a` is checked twice"), "{err}");
    let err = expectation("        signals: [{kind: alert, body.: 1}]\n");
    assert!(err.message.starts_with("unknown key `body.`"), "{err}");
    let err = expectation("        signals: []\n");
    assert_eq!((err.line, err.key.as_deref()), (Some(9), Some("tests[0].expect[0].signals")), "{err}");
    assert!(err.message.contains("write `no_signals: true`"), "{err}");
    let err = expectation("        no_signals: false\n");
    assert!(err.message.starts_with("`no_signals: false` expects nothing"), "{err}");
    let err = expectation("        no_signals: []\n");
    assert!(err.message.starts_with("`no_signals: []` checks nothing"), "{err}");
    let err = expectation("        signals: [{kind: alert}]\n        no_signals: alert\n");
    assert!(err.message.contains("in `signals` and none in `no_signals`"), "{err}");
    let err = expectation("        dropped: true\n        no_signals: true\n      - {input: 1, dropped: true}\n");
    assert_eq!((err.line, err.key.as_deref()), (Some(11), Some("tests[0].expect[1]")), "{err}");
    assert!(err.message.starts_with("entry 1 is a tick, which has no fate to check"), "{err}");
    let err = expectation("        dropped: true\n      - {input: 2, no_signals: true}\n");
    assert_eq!(err.message, "there is no record 2: the case has 2 entries (1 record, 1 tick) (numbered from 0)");
}
