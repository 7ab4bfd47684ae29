//! Expectations on the signals (alerts, pattern changes, insights) an entry made the stages emit:
//! `signals:` lists signals that must each be matched by a distinct emitted one, `no_signals:`
//! names kinds of which none may be emitted.
//!
//! ```yaml
//! - input: 4
//!   signals:
//!     - {kind: alert, stage: alert, body.rule: payment-errors, body.severity: critical}
//!   no_signals: insight          # or a list of kinds, or `true` for every kind
//! ```
//!
//! The schema and its reader live together here; `crate::testing` does the matching.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Check;
use super::de::CheckVisitor;
use crate::event::SignalKind;

/// What the signals emitted while one entry was processed must be.
#[derive(Debug, Clone, Default)]
pub struct SignalExpectation {
    /// Each must be matched by a distinct emitted signal; other signals may be emitted too.
    pub listed: Vec<SignalCheck>,
    /// No signal of these kinds may be emitted.
    pub none_of: Vec<SignalKind>,
}

impl SignalExpectation {
    /// Whether it checks nothing (the expectation says nothing about signals).
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.none_of.is_empty()
    }
}

/// One expected signal: its kind, and optionally its stage and parts of its body.
#[derive(Debug, Clone)]
pub struct SignalCheck {
    pub kind: SignalKind,
    /// The stage that emitted it (compared as text).
    pub stage: Option<Check>,
    /// Parts of its JSON body, in the order written (compared as JSON).
    pub body: Vec<(BodyPath, Check)>,
}

/// A place in a signal's JSON body: `body` (all of it) or `body.a.b`, one member per dot; a
/// number steps into a list (`body.event_ids.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPath(pub Vec<String>);

impl BodyPath {
    /// Parses the key of a signal check; `None` when it is not `body` or `body.<path>`.
    fn parse(key: &str) -> Option<BodyPath> {
        if key == "body" {
            return Some(BodyPath(Vec::new()));
        }
        let rest = key.strip_prefix("body.")?;
        let segments: Vec<String> = rest.split('.').map(str::to_string).collect();
        segments.iter().all(|s| !s.is_empty()).then_some(BodyPath(segments))
    }

    /// The value at this place, `None` when absent (or null).
    pub fn resolve<'a>(&self, body: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        let found = self.0.iter().try_fold(body, |value, segment| match value {
            serde_json::Value::Object(members) => members.get(segment),
            serde_json::Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        });
        found.filter(|v| !v.is_null())
    }
}

impl fmt::Display for BodyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body")?;
        self.0.iter().try_for_each(|segment| write!(f, ".{segment}"))
    }
}

/// The name of a kind as written in tests and shown in reports: the API's (`pattern_changed`).
pub fn kind_name(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::Alert => "alert",
        SignalKind::PatternChanged => "pattern_changed",
        SignalKind::Insight => "insight",
    }
}

const KINDS: &str = "`alert`, `pattern_changed` (or `pattern-changed`), `insight`";

/// A kind by its API name or its WIT name.
fn parse_kind(name: &str) -> Result<SignalKind, String> {
    match name {
        "alert" => Ok(SignalKind::Alert),
        "pattern_changed" | "pattern-changed" => Ok(SignalKind::PatternChanged),
        "insight" => Ok(SignalKind::Insight),
        other => Err(format!("unknown signal kind `{other}`, expected one of {KINDS}")),
    }
}

// As in `de.rs`, errors are raised inside visitors so that they carry the key and the line.

/// `signals: [...]`, which must list at least one signal.
pub(super) struct SignalList(pub Vec<SignalCheck>);

impl<'de> Deserialize<'de> for SignalList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(SignalListVisitor)
    }
}

struct SignalListVisitor;

impl<'de> Visitor<'de> for SignalListVisitor {
    type Value = SignalList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of signals, e.g. `[{kind: alert, body.rule: payment-errors}]`")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SignalList, A::Error> {
        let mut listed = Vec::new();
        while let Some(check) = seq.next_element::<SignalCheck>()? {
            listed.push(check);
        }
        if listed.is_empty() {
            return Err(de::Error::custom(
                "`signals: []` checks nothing; to expect no signals, write `no_signals: true` (or name a kind)",
            ));
        }
        Ok(SignalList(listed))
    }
}

impl<'de> Deserialize<'de> for SignalCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SignalCheckVisitor)
    }
}

struct SignalCheckVisitor;

impl<'de> Visitor<'de> for SignalCheckVisitor {
    type Value = SignalCheck;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a signal: `kind`, and optionally `stage` and `body.<path>` checks")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SignalCheck, A::Error> {
        let mut kind = None;
        let mut stage = None;
        let mut body: Vec<(BodyPath, Check)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "kind" if kind.is_some() => return Err(de::Error::custom("`kind` is given twice")),
                "kind" => kind = Some(map.next_value::<KindName>()?.0),
                "stage" => {
                    let problem = stage.is_some().then(|| "`stage` is checked twice".to_string());
                    stage = Some(map.next_value_seed(CheckVisitor::with_problem(problem))?);
                }
                _ => {
                    let path = BodyPath::parse(&key);
                    // Reported while reading the value, so the error carries the key's path and line.
                    let problem = match &path {
                        None => Some(format!(
                            "unknown key `{key}` in a signal, expected `kind`, `stage`, `body` or `body.<path>`"
                        )),
                        Some(p) if body.iter().any(|(q, _)| q == p) => Some(format!("`{key}` is checked twice")),
                        Some(_) => None,
                    };
                    let check = map.next_value_seed(CheckVisitor::with_problem(problem))?;
                    body.extend(path.map(|p| (p, check)));
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::custom(format!("a signal needs a `kind`: one of {KINDS}")))?;
        Ok(SignalCheck { kind, stage, body })
    }
}

/// A signal kind, by name.
struct KindName(SignalKind);

impl<'de> Deserialize<'de> for KindName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = KindName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a signal kind: {KINDS}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<KindName, E> {
        parse_kind(v).map(KindName).map_err(E::custom)
    }
}

/// `no_signals: alert`, `no_signals: [alert, insight]` or `no_signals: true` (every kind).
pub(super) struct NoSignals(pub Vec<SignalKind>);

impl<'de> Deserialize<'de> for NoSignals {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoSignalsVisitor)
    }
}

struct NoSignalsVisitor;

impl<'de> Visitor<'de> for NoSignalsVisitor {
    type Value = NoSignals;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`true` (no signal at all), a signal kind or a list of kinds ({KINDS})")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NoSignals, E> {
        if v {
            Ok(NoSignals(vec![SignalKind::Alert, SignalKind::PatternChanged, SignalKind::Insight]))
        } else {
            Err(E::custom("`no_signals: false` expects nothing; leave it out"))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NoSignals, E> {
        parse_kind(v).map(|kind| NoSignals(vec![kind])).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoSignals, A::Error> {
        let mut kinds = Vec::new();
        while let Some(KindName(kind)) = seq.next_element()? {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() {
            return Err(de::Error::custom("`no_signals: []` checks nothing; name a kind, or write `true`"));
        }
        Ok(NoSignals(kinds))
    }
}
