//! The schema of a pipeline's test cases (`tests:` in a pipeline file), run by `sluice test`.
//!
//! A case feeds records to the stages as an input would receive them and says what must become
//! of each: one event with given fields, several events, nothing, or a dead letter; and which
//! signals (alerts, pattern changes, insights) processing it must, or must not, have emitted.
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
//! **Time.** Without `clock`, records are stamped with the wall clock as they are fed, and the
//! host clock guests read (`clock.now-ns`) is the wall clock. With `clock: {start, step}` time is
//! explicit: the first entry happens at `start`, each record is received `step` (default `1s`)
//! after the entry before it (its `received_ns` and initial `timestamp_ns`), and the host clock
//! reads that time while the entry is processed. Without ticks, record `i` arrives at
//! `start + i × step`.
//!
//! **Ticks.** An entry of `input` may be the tagged scalar `!tick <duration>` instead of a record:
//! the clock moves on by the duration (from the entry before, or from `start` when it comes
//! first) and every stage gets an empty call, as the running pipeline gives an idle stage once a
//! second. Ticks need `clock`. A tag is used because every plain YAML form is already a record (a
//! string is sent as it is, a mapping as JSON); write `'!tick 10m'`, quoted, to send that text.
//! Ticks are numbered with the records: in `[a, !tick 10m, b]`, `b` is entry 2. No tick happens
//! unless written: time passing between records (a long `step`) gives no empty calls by itself.
//!
//! **Expectations.** `input` names an entry; an expectation then says at most one fate
//! (`output`, `outputs`, `dropped`, `dead_lettered`) and may add signal checks (`signals`,
//! `no_signals`, see [`signals`]); it must check something. A record's fate is checked only when
//! one is said. A tick has no fate: an expectation on a tick checks only signals.
//!
//! ```yaml
//!   - name: an error burst fires the payment alert, silence fires the absence alert
//!     clock: {start: 2026-12-01T12:00:00Z, step: 10s}
//!     input:
//!       - {message: "payment declined", level: error, source: payments}
//!       - {message: "payment declined", level: error, source: payments}
//!       - !tick 11m
//!     expect:
//!       - input: 1
//!         output: {level: ERROR}
//!         signals: [{kind: alert, body.rule: payment-errors, body.severity: critical}]
//!       - input: 2
//!         signals: [{kind: alert, body.rule: payments-silent}]
//!         no_signals: insight
//! ```
//!
//! Whatever can be checked without running a guest is checked while parsing, so a mistake in a
//! test is reported like any other config error, with file, line and key: unknown field paths,
//! regexes that do not compile, expectations that say nothing or two things. [`validate`] adds the
//! checks that span a case (entry indexes, duplicate names, ticks without a clock). This module
//! never runs a guest; `crate::testing` does.
//!
//! Files: this one holds the schema; `de.rs` reads it (hand-written visitors, so every mistake is
//! reported with its key and line); `clock.rs` holds the clock and the timeline it gives the
//! entries; `signals.rs` the signal checks; `validate.rs` the checks that span a case.

mod clock;
mod de;
pub mod signals;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;

use serde::Deserialize;

pub use clock::ClockSpec;
use de::{DeadLetterSpec, present};
pub use signals::{BodyPath, SignalCheck, SignalExpectation};
use signals::{NoSignals, SignalList};
pub use validate::validate;

/// One test case: records fed to the stages, and what must become of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Names the case in reports; unique within the file.
    pub name: String,
    /// Explicit time: when the entries happen. Without it, the wall clock.
    #[serde(default)]
    pub clock: Option<ClockSpec>,
    /// Entries, in order: records as the pipeline's first input receives them (a string is the
    /// raw record, a text line; a mapping is sent as its JSON text, an NDJSON line) and ticks
    /// (`!tick 10m`, with `clock` only).
    pub input: Vec<TestInput>,
    /// What must become of the entries, by index. Entries no expectation names are not checked.
    pub expect: Vec<Expectation>,
}

/// One entry of a case's `input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestInput {
    /// A record, fed to the stages as a batch of one.
    Record(TestRecord),
    /// `!tick <duration>`: the clock moves on by this much, then every stage gets an empty call.
    Tick(std::time::Duration),
}

impl TestInput {
    pub fn is_tick(&self) -> bool {
        matches!(self, TestInput::Tick(_))
    }
}

/// One input record: exactly the text an input would have journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecord {
    /// The record as received; a mapping in the file becomes its compact JSON text, keys in order.
    pub raw: String,
}

/// What must become of one entry: at least one of a fate and signal checks.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Which entry of `input` (0-based; records and ticks are numbered together).
    pub input: usize,
    /// What the record must have become after the last stage; `None`: not checked (always for a
    /// tick).
    pub fate: Option<Fate>,
    /// The signals processing it must, and must not, have emitted.
    pub signals: SignalExpectation,
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

/// An expectation as written: `input`, at most one fate, and signal checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectationKeys {
    /// Which entry (0-based).
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
    /// Signals that must each be matched by a distinct signal emitted while the entry was
    /// processed, e.g. `[{kind: alert, body.rule: payment-errors}]`.
    #[serde(default)]
    signals: Option<SignalList>,
    /// Kinds of which no signal may have been emitted: `alert`, `[alert, insight]`, or `true`.
    #[serde(default)]
    no_signals: Option<NoSignals>,
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
