//! The schema of a pipeline's test cases (`tests:` in a pipeline file), run by `sluice test`.
//!
//! A case feeds records to the stages as an input would receive them and says what must become
//! of each: one event with given fields, several events, nothing, or a dead letter.
//!
//! ```yaml
//! tests:
//!   - name: a JSON record is normalized
//!     input:
//!       - '{"message": "User 1 logged in", "level": "warn"}'
//!       - {message: "disk full", level: error}
//!     expect:
//!       - input: 0
//!         output: {level: WARNING, pattern.template: {matches: "^User <\\*> logged in$"}}
//!       - input: 1
//!         dead_lettered: {stage: mine, reason: {matches: "deadline"}}
//! ```
//!
//! Whatever can be checked without running a guest is checked while parsing, so a mistake in a
//! test is reported like any other config error, with file, line and key: unknown field paths,
//! regexes that do not compile, expectations that say nothing or two things. [`validate`] adds the
//! checks that span a case (record indexes, duplicate names). This module never runs a guest;
//! `crate::testing` does.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::ConfigError;

/// One test case: records fed to the stages, and what must become of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Names the case in reports; unique within the file.
    pub name: String,
    /// Records as the pipeline's first input receives them, in order: a string is the raw record
    /// (a text line), a mapping is sent as its JSON text (an NDJSON line).
    pub input: Vec<TestRecord>,
    /// What must become of the records, by index. Records no expectation names are not checked.
    pub expect: Vec<Expectation>,
}

/// One input record: exactly the text an input would have journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecord {
    /// The record as received; a mapping in the file becomes its compact JSON text, keys in order.
    pub raw: String,
}

/// What must become of one input record.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Which input record (0-based).
    pub input: usize,
    /// What it must have become after the last stage.
    pub fate: Fate,
}

/// What a record becomes after all stages.
#[derive(Debug, Clone)]
pub enum Fate {
    /// Exactly one event, with at least these fields.
    Output(FieldChecks),
    /// Exactly these events, in order.
    Outputs(Vec<FieldChecks>),
    /// No event and no dead letter.
    Dropped,
    /// Dead-lettered: nothing of it reaches the outputs, and every dead letter it caused matches.
    DeadLettered(DeadLetterCheck),
}

/// An expectation as written: `input` and exactly one of the others.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectationKeys {
    /// Which input record (0-based).
    input: usize,
    /// It reaches the outputs as exactly one event with these fields (fields not named are not
    /// checked).
    #[serde(default, deserialize_with = "present")]
    output: Option<FieldChecks>,
    /// It becomes exactly these events, in this order (for guests that split a record).
    #[serde(default)]
    outputs: Option<Vec<FieldChecks>>,
    /// `true`: a stage replaced it by zero events (and nothing dead-lettered it).
    #[serde(default)]
    dropped: Option<bool>,
    /// `true`, or `{stage, reason}`: a stage dead-lettered it and nothing of it reached the outputs.
    #[serde(default)]
    dead_lettered: Option<DeadLetterSpec>,
}

/// Which dead letter is expected; a key left out matches anything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterCheck {
    /// The stage that gave up on the record, e.g. `mine`.
    #[serde(default)]
    pub stage: Option<Check>,
    /// The reason it gave, e.g. `{matches: "^deadline of"}`.
    #[serde(default)]
    pub reason: Option<Check>,
}

/// Fields of one event to check, in the order written.
#[derive(Debug, Clone, Default)]
pub struct FieldChecks(pub Vec<FieldCheck>);

/// One field and the condition its value must meet.
#[derive(Debug, Clone)]
pub struct FieldCheck {
    /// Which field.
    pub path: FieldPath,
    /// What its value must be.
    pub check: Check,
}

/// A condition on a value. Written as a plain scalar (equals) or a one-key mapping.
#[derive(Debug, Clone)]
pub enum Check {
    /// Equal to this. Text fields compare as text (`user_id: 42` matches the stored `"42"`);
    /// `line`, attributes and insight compare as JSON (`attributes.port: 8080` is a number).
    Equals(serde_json::Value),
    /// The value's text (a JSON value's compact text) matches this regular expression.
    Matches(Pattern),
    /// `true`: the field is absent; `false`: it is present, with any value.
    Absent(bool),
}

/// A check as written in mapping form: exactly one key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckKeys {
    /// The value equals this; any YAML value, for comparing attributes that hold objects or lists.
    #[serde(default, deserialize_with = "present")]
    equals: Option<serde_json::Value>,
    /// The value's text matches this regular expression, anywhere unless anchored (`^…$`).
    #[serde(default)]
    matches: Option<Pattern>,
    /// `true`: the field must be absent; `false`: it must be present.
    #[serde(default)]
    absent: Option<bool>,
}

/// A regular expression, compiled when the file is parsed.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A field of an event as the host stores and streams it, named by a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldPath {
    /// A top-level field: one of [`FieldPath::TOP`].
    Top(&'static str),
    /// All attributes, as one JSON object.
    Attributes,
    /// One attribute (`attributes.<key>`; the key is everything after the first dot).
    Attribute(String),
    /// `pattern.id` or `pattern.template`.
    Pattern(&'static str),
    /// The insight object, whole.
    Insight,
    /// One member of the insight object (`insight.<key>`).
    InsightMember(String),
}

impl FieldPath {
    /// The top-level fields, as stored: `level` is `INFO` when no stage set one, `message` is the
    /// raw record when no stage parsed it, `timestamp` is RFC 3339 UTC with milliseconds.
    pub const TOP: &'static [&'static str] = &[
        "id",
        "timestamp",
        "level",
        "source",
        "module",
        "function",
        "file",
        "line",
        "topic",
        "message",
        "user_id",
        "session_id",
        "trace_id",
        "input",
    ];

    /// Parses a dotted path, or says which paths exist.
    pub fn parse(path: &str) -> Result<FieldPath, String> {
        if let Some(top) = FieldPath::TOP.iter().find(|f| **f == path) {
            return Ok(FieldPath::Top(top));
        }
        let parsed = match path.split_once('.') {
            None if path == "attributes" => Some(FieldPath::Attributes),
            None if path == "insight" => Some(FieldPath::Insight),
            Some(("attributes", key)) if !key.is_empty() => Some(FieldPath::Attribute(key.to_string())),
            Some(("insight", key)) if !key.is_empty() => Some(FieldPath::InsightMember(key.to_string())),
            Some(("pattern", "id")) => Some(FieldPath::Pattern("id")),
            Some(("pattern", "template")) => Some(FieldPath::Pattern("template")),
            _ => None,
        };
        parsed.ok_or_else(|| {
            let known: Vec<String> = FieldPath::TOP
                .iter()
                .copied()
                .chain(["attributes", "attributes.<key>", "pattern.id", "pattern.template", "insight", "insight.<key>"])
                .map(|f| format!("`{f}`"))
                .collect();
            format!("unknown field `{path}`, expected one of {}", known.join(", "))
        })
    }

    /// Whether the stored value is text, so an expected scalar compares by its text.
    pub fn is_text(&self) -> bool {
        matches!(self, FieldPath::Top(f) if *f != "line") || matches!(self, FieldPath::Pattern(_))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Top(name) => f.write_str(name),
            FieldPath::Attributes => f.write_str("attributes"),
            FieldPath::Attribute(key) => write!(f, "attributes.{key}"),
            FieldPath::Pattern(member) => write!(f, "pattern.{member}"),
            FieldPath::Insight => f.write_str("insight"),
            FieldPath::InsightMember(key) => write!(f, "insight.{key}"),
        }
    }
}

/// Checks what spans a case and so cannot be checked while parsing one value: case names are
/// unique and non-empty, a case has records and expectations, and each expectation names an
/// existing record, once. `text` is the file's text, used to find the offending line.
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
            if n >= case.input.len() {
                let message =
                    format!("there is no record {n}: the case has {} (numbered from 0)", records(case.input.len()));
                return Err(fail(line, key, message));
            }
            if !expected.insert(n) {
                return Err(fail(line, key, format!("record {n} is expected twice; merge the expectations")));
            }
        }
    }
    Ok(())
}

fn records(n: usize) -> String {
    if n == 1 { "1 record".into() } else { format!("{n} records") }
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
fn names_input(line: &str, n: usize) -> bool {
    let needle = format!("input: {n}");
    line.match_indices(&needle).any(|(i, _)| !line[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// For `Option` fields whose `null` must not read as "not given".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

// The deserializers below raise their errors inside a visitor, where the YAML deserializer still
// knows the position, so config errors point at the offending line.

impl<'de> Deserialize<'de> for TestRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = TestRecord;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string (the raw record; quote it if it looks like a number) or a mapping (sent as JSON)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TestRecord, E> {
        Ok(TestRecord { raw: v.to_string() })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TestRecord, A::Error> {
        // Through YAML's own value, which keeps the keys in the order written.
        let value = serde_yaml_ng::Value::deserialize(MapAccessDeserializer::new(map))?;
        let raw = serde_json::to_string(&value)
            .map_err(|e| de::Error::custom(format!("this mapping cannot be sent as JSON ({e})")))?;
        Ok(TestRecord { raw })
    }
}

impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ExpectationVisitor)
    }
}

struct ExpectationVisitor;

impl<'de> Visitor<'de> for ExpectationVisitor {
    type Value = Expectation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an expectation: `input` and one of `output`, `outputs`, `dropped`, `dead_lettered`")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Expectation, A::Error> {
        let keys = ExpectationKeys::deserialize(MapAccessDeserializer::new(map))?;
        let input = keys.input;
        let mut fates = Vec::new();
        fates.extend(keys.output.map(Fate::Output));
        fates.extend(keys.outputs.map(Fate::Outputs));
        match keys.dropped {
            Some(true) => fates.push(Fate::Dropped),
            Some(false) => return Err(de::Error::custom(not_false("dropped"))),
            None => {}
        }
        fates.extend(keys.dead_lettered.map(|d| Fate::DeadLettered(d.0)));
        match (fates.pop(), fates.is_empty()) {
            (Some(fate), true) => Ok(Expectation { input, fate }),
            (None, _) => Err(de::Error::custom(format!(
                "say what becomes of record {input} with one of `output`, `outputs`, `dropped: true`, `dead_lettered`"
            ))),
            (Some(_), false) => Err(de::Error::custom(format!(
                "record {input} is expected to become two things; keep one of {}",
                "`output`, `outputs`, `dropped`, `dead_lettered`"
            ))),
        }
    }
}

fn not_false(key: &str) -> String {
    format!(
        "`{key}: false` expects nothing; say what the record becomes instead ({})",
        "`output`, `outputs`, `dropped: true` or `dead_lettered`"
    )
}

/// `dead_lettered: true` or `dead_lettered: {stage, reason}`.
struct DeadLetterSpec(DeadLetterCheck);

impl<'de> Deserialize<'de> for DeadLetterSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DeadLetterVisitor)
    }
}

struct DeadLetterVisitor;

impl<'de> Visitor<'de> for DeadLetterVisitor {
    type Value = DeadLetterSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`true` or a mapping with `stage` and/or `reason`")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<DeadLetterSpec, E> {
        if v { Ok(DeadLetterSpec(DeadLetterCheck::default())) } else { Err(E::custom(not_false("dead_lettered"))) }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DeadLetterSpec, A::Error> {
        DeadLetterCheck::deserialize(MapAccessDeserializer::new(map)).map(DeadLetterSpec)
    }
}

impl<'de> Deserialize<'de> for FieldChecks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldChecksVisitor)
    }
}

struct FieldChecksVisitor;

impl<'de> Visitor<'de> for FieldChecksVisitor {
    type Value = FieldChecks;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of field paths to values or checks, e.g. `{level: ERROR, message: {matches: disk}}`")
    }

    /// `output:` with nothing after it: one event, fields unchecked.
    fn visit_unit<E: de::Error>(self) -> Result<FieldChecks, E> {
        Ok(FieldChecks::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldChecks, A::Error> {
        let mut checks: Vec<FieldCheck> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = FieldPath::parse(&key);
            // Reported while reading the value, so the error carries the key's path and line.
            let problem = match &path {
                Err(e) => Some(e.clone()),
                Ok(p) if checks.iter().any(|c| c.path == *p) => Some(format!("`{key}` is checked twice")),
                Ok(_) => None,
            };
            let check = map.next_value_seed(CheckVisitor { problem })?;
            if let Ok(path) = path {
                checks.push(FieldCheck { path, check });
            }
        }
        Ok(FieldChecks(checks))
    }
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor { problem: None })
    }
}

/// Reads a check; `problem` is an error about its key, raised in place of reading the value.
struct CheckVisitor {
    problem: Option<String>,
}

impl CheckVisitor {
    fn equals<E: de::Error>(self, value: serde_json::Value) -> Result<Check, E> {
        self.key_ok()?;
        Ok(Check::Equals(value))
    }

    fn key_ok<E: de::Error>(&self) -> Result<(), E> {
        match &self.problem {
            Some(problem) => Err(E::custom(problem)),
            None => Ok(()),
        }
    }
}

const NULL: &str = "null is not a value to compare; write `{absent: true}` for a field that must be absent";

impl<'de> DeserializeSeed<'de> for CheckVisitor {
    type Value = Check;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Check, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Check;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, `{equals: X}`, `{matches: REGEX}` or `{absent: true}`")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Check, E> {
        let number = serde_json::Number::from_f64(v).ok_or_else(|| E::custom("not a finite number"))?;
        self.equals(number.into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Check, E> {
        self.key_ok()?;
        Err(E::custom(NULL))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Check, A::Error> {
        self.key_ok()?;
        let keys = CheckKeys::deserialize(MapAccessDeserializer::new(map))?;
        match (keys.equals, keys.matches, keys.absent) {
            (Some(serde_json::Value::Null), None, None) => Err(de::Error::custom(NULL)),
            (Some(value), None, None) => Ok(Check::Equals(value)),
            (None, Some(pattern), None) => Ok(Check::Matches(pattern)),
            (None, None, Some(absent)) => Ok(Check::Absent(absent)),
            _ => Err(de::Error::custom(
                "a check has exactly one of `equals`, `matches` and `absent` (to compare with a mapping, use `equals`)",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(PatternVisitor)
    }
}

struct PatternVisitor;

impl<'de> Visitor<'de> for PatternVisitor {
    type Value = Pattern;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a regular expression")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Pattern, E> {
        regex::Regex::new(v).map(Pattern).map_err(|e| {
            // The crate's message spans lines (the pattern, a caret, the error); keep the error.
            let text = e.to_string();
            let why = text.lines().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or(&text).to_string();
            E::custom(format!("invalid regular expression `{v}` ({why})"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pipeline;

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
}
