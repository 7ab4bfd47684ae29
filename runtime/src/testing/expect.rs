//! Matching what became of a record against the fate its test case expects (its signals are
//! matched in `signals`).
//!
//! Pure functions over events and dead letters: no guest runs here, nothing is printed. Each
//! difference becomes a [`Mismatch`] naming the field path, the expectation and the actual value,
//! so a report can say exactly what to fix.

use serde_json::Value;

use super::view;
use crate::config::testcase::{Check, DeadLetterCheck, Fate, FieldChecks};
use crate::event::{DeadLetter, Event, Signal};

/// What became of one entry (a record or a tick) after the last stage.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The events that reached the outputs, in order.
    pub events: Vec<Event>,
    /// The dead letters it caused, in order.
    pub dead_letters: Vec<DeadLetter>,
    /// The signals the stages emitted while processing it, in stage order.
    pub signals: Vec<Signal>,
}

impl Observed {
    /// A short account, e.g. `one event`, `dead-lettered by stage `mine``.
    pub fn summary(&self) -> String {
        match (self.events.len(), self.dead_letters.as_slice()) {
            (0, []) => "no event (dropped)".into(),
            (1, []) => "one event".into(),
            (n, []) => format!("{n} events"),
            (0, [dead]) => format!("dead-lettered by stage `{}`", dead.stage),
            (0, dead) => format!("{} dead letters", dead.len()),
            (n, dead) => format!("{n} events and {} dead letters", dead.len()),
        }
    }
}

/// One way an observation differs from its expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The field checked (`level`, `outputs[1].message`, `dead_lettered.reason`), or `None` when
    /// the record became something else altogether.
    pub path: Option<String>,
    /// What was expected, e.g. `"WARNING"`, `a match for /^User/`, `absent`.
    pub expected: String,
    /// What was there, as compact JSON, or `absent`.
    pub got: String,
}

/// Every difference between `observed` and `fate`; empty when the expectation holds.
pub fn check(fate: &Fate, observed: &Observed) -> Vec<Mismatch> {
    let fate_mismatch =
        |expected: &str| vec![Mismatch { path: None, expected: expected.to_string(), got: observed.summary() }];
    let clean = observed.dead_letters.is_empty();
    match fate {
        Fate::Output(fields) => match observed.events.as_slice() {
            [event] if clean => check_fields(fields, event, ""),
            _ => fate_mismatch("one event"),
        },
        Fate::Outputs(list) => {
            if !clean || observed.events.len() != list.len() {
                let expected = match list.len() {
                    1 => "one event".to_string(),
                    n => format!("{n} events"),
                };
                return fate_mismatch(&expected);
            }
            list.iter()
                .zip(&observed.events)
                .enumerate()
                .flat_map(|(i, (fields, event))| check_fields(fields, event, &format!("outputs[{i}].")))
                .collect()
        }
        Fate::Dropped if clean && observed.events.is_empty() => Vec::new(),
        Fate::Dropped => fate_mismatch("no event (dropped)"),
        Fate::DeadLettered(expected) if observed.events.is_empty() && !clean => {
            check_dead_letters(expected, &observed.dead_letters)
        }
        Fate::DeadLettered(_) => fate_mismatch("dead-lettered"),
    }
}

fn check_fields(fields: &FieldChecks, event: &Event, prefix: &str) -> Vec<Mismatch> {
    let stored = view::stored(event);
    fields
        .0
        .iter()
        .filter_map(|field| {
            let actual = view::resolve(&stored, &field.path);
            let path = format!("{prefix}{}", field.path);
            mismatch(&field.check, actual, field.path.is_text(), path)
        })
        .collect()
}

fn check_dead_letters(expected: &DeadLetterCheck, dead: &[DeadLetter]) -> Vec<Mismatch> {
    let mut found = Vec::new();
    for (i, letter) in dead.iter().enumerate() {
        let prefix = if dead.len() == 1 { "dead_lettered".to_string() } else { format!("dead_lettered[{i}]") };
        for (name, check, actual) in
            [("stage", &expected.stage, &letter.stage), ("reason", &expected.reason, &letter.reason)]
        {
            if let Some(check) = check {
                let actual = Value::String(actual.clone());
                found.extend(mismatch(check, Some(&actual), true, format!("{prefix}.{name}")));
            }
        }
    }
    found
}

fn mismatch(check: &Check, actual: Option<&Value>, text: bool, path: String) -> Option<Mismatch> {
    if holds(check, actual, text) {
        return None;
    }
    Some(Mismatch {
        path: Some(path),
        expected: describe(check),
        got: actual.map_or("absent".into(), Value::to_string),
    })
}

/// Whether `actual` meets `check`. On text fields an expected scalar compares by its text, so
/// `user_id: 42` matches the stored `"42"`; elsewhere values compare as JSON.
pub fn holds(check: &Check, actual: Option<&Value>, text: bool) -> bool {
    match (check, actual) {
        (Check::Absent(absent), actual) => *absent == actual.is_none(),
        (_, None) => false,
        (Check::Equals(expected), Some(actual)) if text => text_of(expected) == text_of(actual),
        (Check::Equals(expected), Some(actual)) => json_equal(expected, actual),
        (Check::Matches(pattern), Some(actual)) => pattern.is_match(&text_of(actual)),
    }
}

/// A string's own text; any other value's compact JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// How a check reads in a report: the expected value, `a match for /re/`, `absent`, `present`.
pub(super) fn describe(check: &Check) -> String {
    match check {
        Check::Equals(value) => value.to_string(),
        Check::Matches(pattern) => format!("a match for /{}/", pattern.as_str()),
        Check::Absent(true) => "absent".into(),
        Check::Absent(false) => "present".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::testcase::{FieldCheck, FieldPath};
    use crate::event::Attribute;

    fn check_of(yaml: &str) -> Check {
        serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    fn fields(pairs: &[(&str, &str)]) -> FieldChecks {
        FieldChecks(
            pairs
                .iter()
                .map(|(path, check)| FieldCheck {
                    path: FieldPath::parse(path).unwrap_or_else(|e| panic!("{e}")),
                    check: check_of(check),
                })
                .collect(),
        )
    }

    fn event() -> Event {
        let mut e = Event::received("e1".into(), 1, "http".into(), "User 1 logged in".into());
        e.message = "User 1 logged in".into();
        e.level = "WARNING".into();
        e.user_id = Some("42".into());
        e.line = Some(7);
        e.attributes = vec![Attribute { key: "port".into(), value: "8080".into() }];
        e
    }

    fn dead(stage: &str, reason: &str) -> DeadLetter {
        DeadLetter {
            event: event(),
            stage: stage.into(),
            guest: "g".into(),
            guest_version: "v".into(),
            reason: reason.into(),
            failed_ns: 1,
        }
    }

    fn one(event: Event) -> Observed {
        Observed { events: vec![event], ..Observed::default() }
    }

    #[test]
    fn equals_compares_text_fields_as_text_and_the_rest_as_json() {
        let text = Some(json!("42"));
        assert!(holds(&check_of("42"), text.as_ref(), true));
        assert!(holds(&check_of("'42'"), text.as_ref(), true));
        assert!(!holds(&check_of("42"), text.as_ref(), false), "an attribute holding \"42\" is not the number 42");
        assert!(holds(&check_of("8080"), Some(&json!(8080)), false));
        assert!(holds(&check_of("8080.0"), Some(&json!(8080)), false));
        assert!(holds(&check_of("{equals: {a: [1, true]}}"), Some(&json!({"a": [1.0, true]})), false));
        assert!(!holds(&check_of("x"), None, true), "absent is never equal");
    }

    #[test]
    fn matches_and_absent() {
        assert!(holds(&check_of("{matches: '^User <\\*> logged in$'}"), Some(&json!("User <*> logged in")), true));
        assert!(!holds(&check_of("{matches: '^User'}"), Some(&json!("a User")), true));
        assert!(holds(&check_of("{matches: '^80'}"), Some(&json!(8080)), false), "JSON values match by their text");
        assert!(!holds(&check_of("{matches: '.*'}"), None, true));
        assert!(holds(&check_of("{absent: true}"), None, false));
        assert!(!holds(&check_of("{absent: true}"), Some(&json!(1)), false));
        assert!(holds(&check_of("{absent: false}"), Some(&json!(1)), false));
    }

    #[test]
    fn field_mismatches_name_path_expected_and_got() {
        let expected = fields(&[
            ("level", "WARNING"),
            ("message", "User 2 logged in"),
            ("user_id", "42"),
            ("line", "7"),
            ("attributes.port", "{matches: '^9'}"),
            ("attributes.ip", "{absent: true}"),
            ("source", "{absent: false}"),
        ]);
        let found = check(&Fate::Output(expected), &one(event()));
        let m = |path: &str, expected: &str, got: &str| Mismatch {
            path: Some(path.into()),
            expected: expected.into(),
            got: got.into(),
        };
        assert_eq!(
            found,
            [
                m("message", "\"User 2 logged in\"", "\"User 1 logged in\""),
                m("attributes.port", "a match for /^9/", "8080"),
                m("source", "present", "absent"),
            ]
        );
    }

    #[test]
    fn fates_are_told_apart() {
        let any = || FieldChecks::default();
        let dropped = Observed::default();
        let two = Observed { events: vec![event(), event()], ..Observed::default() };
        let died = Observed { dead_letters: vec![dead("mine", "deadline of 300ms exceeded")], ..Observed::default() };
        assert!(check(&Fate::Dropped, &dropped).is_empty());
        assert!(check(&Fate::Output(any()), &one(event())).is_empty());
        assert!(check(&Fate::Outputs(vec![any(), any()]), &two).is_empty());
        let fate = |m: Vec<Mismatch>| m.into_iter().map(|m| (m.path, m.expected, m.got)).collect::<Vec<_>>();
        assert_eq!(
            fate(check(&Fate::Dropped, &one(event()))),
            [(None, "no event (dropped)".into(), "one event".into())]
        );
        assert_eq!(
            fate(check(&Fate::Output(any()), &died)),
            [(None, "one event".into(), "dead-lettered by stage `mine`".into())]
        );
        assert_eq!(
            fate(check(&Fate::Output(any()), &dropped)),
            [(None, "one event".into(), "no event (dropped)".into())]
        );
        assert_eq!(fate(check(&Fate::Outputs(vec![any()]), &two)), [(None, "one event".into(), "2 events".into())]);
        let dead_check = DeadLetterCheck::default();
        assert!(check(&Fate::DeadLettered(dead_check.clone()), &died).is_empty());
        assert_eq!(
            fate(check(&Fate::DeadLettered(dead_check), &dropped)),
            [(None, "dead-lettered".into(), "no event (dropped)".into())]
        );
    }

    #[test]
    fn split_outputs_are_checked_in_order() {
        let mut second = event();
        second.message = "second".into();
        let observed = Observed { events: vec![event(), second], ..Observed::default() };
        let expected = Fate::Outputs(vec![fields(&[("message", "User 1 logged in")]), fields(&[("message", "first")])]);
        let found = check(&expected, &observed);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path.as_deref(), Some("outputs[1].message"));
        assert_eq!(found[0].got, "\"second\"");
    }

    #[test]
    fn dead_letter_stage_and_reason_are_checked() {
        let died = Observed { dead_letters: vec![dead("loop", "deadline of 300ms exceeded")], ..Observed::default() };
        let expect = |yaml: &str| Fate::DeadLettered(serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}")));
        assert!(check(&expect("{stage: loop, reason: {matches: '^deadline of 300ms'}}"), &died).is_empty());
        let found = check(&expect("{stage: trap, reason: 'guest trapped'}"), &died);
        let paths: Vec<_> = found.iter().map(|m| m.path.as_deref()).collect();
        assert_eq!(paths, [Some("dead_lettered.stage"), Some("dead_lettered.reason")]);
        assert_eq!(found[0].got, "\"loop\"");
        assert_eq!(found[1].expected, "\"guest trapped\"");
    }
}
