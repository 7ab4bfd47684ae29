use std::path::Path;

use super::validate::names_input;
use super::*;
use crate::config::{ConfigError, Pipeline};

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
    assert_eq!(case.input[0].raw, "plain line");
    assert_eq!(case.input[1].raw, r#"{"message":"hi","level":"warn","n":3,"nested":{"b":1,"a":[true]}}"#);
    let Fate::Output(fields) = &case.expect[0].fate else { panic!("{:?}", case.expect[0]) };
    let paths: Vec<String> = fields.0.iter().map(|c| c.path.to_string()).collect();
    assert_eq!(paths, ["level", "line", "attributes.ip", "attributes.user.name", "pattern.template"]);
    assert_eq!(fields.0[3].path, FieldPath::Attribute("user.name".into()));
    assert!(matches!(&fields.0[1].check, Check::Equals(v) if *v == serde_json::json!(42)));
    assert!(matches!(&fields.0[2].check, Check::Absent(true)));
    let Check::Matches(pattern) = &fields.0[4].check else { panic!("{:?}", fields.0[4]) };
    assert!(pattern.is_match("User <*> logged in"));
    assert!(matches!(&case.expect[1].fate, Fate::Outputs(list) if list.len() == 2));
    assert!(matches!(case.expect[2].fate, Fate::Dropped));
    let Fate::DeadLettered(dead) = &case.expect[3].fate else { panic!("{:?}", case.expect[3]) };
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
    assert!(matches!(&cases[0].expect[0].fate, Fate::DeadLettered(d) if d.stage.is_none() && d.reason.is_none()));
    assert!(matches!(&cases[0].expect[1].fate, Fate::Output(f) if f.0.is_empty()));
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
