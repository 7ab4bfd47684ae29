//! The batch layout end to end: events packed as the host sends them, read through the views,
//! answered through `Answers`, and unpacked back into the owned values they started as.

use crate::wire::{self, Span};
use crate::{
    Answers, Attribute, BatchView, Event, Guest, Outcome, PatternRef, annotate_pattern, blank_event, fail, pack,
    string_attribute, unpack,
};

/// An event with every field set, non-ASCII text and JSON values included.
fn full_event(n: u32) -> Event {
    Event {
        id: format!("01HZX{n}"),
        timestamp_ns: 1_700_000_000_000_000_000 + i64::from(n),
        received_ns: -5,
        input: "kafka-in".into(),
        level: "WARNING".into(),
        source: Some("payments".into()),
        module: Some("billing::card".into()),
        function: Some("charge".into()),
        file: Some("src/card.rs".into()),
        line: Some(420 + n),
        topic: Some("logs.app".into()),
        message: format!("paiement refusé pour l'utilisateur №{n} ✓ 日本"),
        user_id: Some("u-17".into()),
        session_id: Some("s-ß".into()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        attributes: vec![
            string_attribute("region", "eu-west-1"),
            Attribute { key: "amount".into(), value: "12.5".into() },
            Attribute { key: "ctx".into(), value: r#"{"nested":["é",1]}"#.into() },
        ],
        raw: Some(r#"{"msg":"paiement refusé"}"#.into()),
        pattern: Some(PatternRef { id: "00ff00ff00ff00ff".into(), template: "paiement refusé pour <*>".into() }),
        insight: Some(r#"{"summary":"card declined"}"#.into()),
    }
}

/// An event whose strings are all empty and whose options are `Some("")`.
fn empty_strings_event() -> Event {
    Event {
        source: Some(String::new()),
        module: Some(String::new()),
        function: Some(String::new()),
        file: Some(String::new()),
        line: Some(0),
        topic: Some(String::new()),
        user_id: Some(String::new()),
        session_id: Some(String::new()),
        trace_id: Some(String::new()),
        attributes: vec![Attribute { key: String::new(), value: String::new() }],
        raw: Some(String::new()),
        pattern: Some(PatternRef { id: String::new(), template: String::new() }),
        insight: Some(String::new()),
        ..blank_event()
    }
}

fn sample_events() -> Vec<Event> {
    vec![full_event(1), blank_event(), empty_strings_event(), full_event(2)]
}

/// Answers the way the host would receive them, through the owned path.
fn answer(outcomes: &[Outcome]) -> wire::Results {
    let mut answers = Answers::new();
    for outcome in outcomes {
        answers.push(outcome.clone());
    }
    answers.finish()
}

#[test]
fn packed_events_read_back_field_for_field() {
    let events = sample_events();
    let batch = pack(&events);
    let view = BatchView::new(&batch);
    assert_eq!((view.len(), view.is_empty()), (4, false));
    assert_eq!(view.to_events(), events);

    let first = view.get(0).unwrap();
    assert_eq!(first.id(), "01HZX1");
    assert_eq!(first.message(), "paiement refusé pour l'utilisateur №1 ✓ 日本");
    assert_eq!(first.level(), "WARNING");
    assert_eq!(first.source(), Some("payments"));
    assert_eq!(first.line(), Some(421));
    assert_eq!(first.timestamp_ns(), 1_700_000_000_000_000_001);
    assert_eq!(first.received_ns(), -5);
    assert_eq!(first.raw(), Some(r#"{"msg":"paiement refusé"}"#));
    assert_eq!(first.pattern(), Some(("00ff00ff00ff00ff", "paiement refusé pour <*>")));
    let attributes: Vec<_> = first.attributes().collect();
    assert_eq!(attributes, [("region", r#""eu-west-1""#), ("amount", "12.5"), ("ctx", r#"{"nested":["é",1]}"#)]);

    let blank = view.get(1).unwrap();
    assert_eq!((blank.message(), blank.raw(), blank.pattern(), blank.attributes().len()), ("", None, None, 0));
    let empty = view.get(2).unwrap();
    assert_eq!((empty.raw(), empty.pattern(), empty.insight()), (Some(""), Some(("", "")), Some("")));
    assert!(view.get(4).is_none());
    assert_eq!(view.events().rev().map(|e| e.id().to_owned()).next().as_deref(), Some("01HZX2"));
}

#[test]
fn an_empty_batch_is_a_tick() {
    let batch = pack(&[]);
    let view = BatchView::new(&batch);
    assert!(view.is_empty() && view.text().is_empty());
    assert_eq!(view.events().count(), 0);
    assert!(unpack(&Answers::new().finish()).is_empty());
}

#[test]
fn owned_outcomes_survive_the_round_trip() {
    let mut split = full_event(3);
    split.attributes.clear();
    let outcomes = vec![
        Outcome::Keep,
        annotate_pattern("0123456789abcdef", "User <*> logged in"),
        Outcome::Annotate(crate::Annotation {
            level: Some("ERROR".into()),
            pattern: Some(PatternRef { id: "é".into(), template: "✓ <*>".into() }),
            insight: Some(r#"{"summary":"日本"}"#.into()),
            attributes: vec![string_attribute("template_vars", "[\"x\"]"), string_attribute("", "")],
        }),
        Outcome::Replace(vec![full_event(1), blank_event(), empty_strings_event(), split]),
        Outcome::Replace(Vec::new()),
        fail("unparseable: ünïcode"),
        fail(""),
        Outcome::Annotate(crate::Annotation { level: None, pattern: None, insight: None, attributes: Vec::new() }),
        Outcome::Replace(vec![full_event(9)]),
    ];
    let results = answer(&outcomes);
    assert_eq!(results.outcomes.len(), outcomes.len());
    assert_eq!(unpack(&results), outcomes);
}

#[test]
fn spans_can_be_shared_between_outcomes() {
    let mut answers = Answers::with_capacity(3, 64);
    let id = answers.span("00ff");
    let template = answers.span("Job <*> done");
    let key = answers.span("template_vars");
    let pattern = wire::PatternRef { id, template };
    for n in [1, 22] {
        let value = answers.span_with(|buf| {
            buf.push('[');
            crate::push_json_string(buf, &n.to_string());
            buf.push(']');
        });
        assert_eq!(answers.text_of(value), format!("[\"{n}\"]"));
        answers.annotate(None, Some(pattern), None, &[wire::Attribute { key, value }]);
    }
    let reason = answers.span("no");
    answers.fail_span(reason);
    answers.keep();
    assert_eq!(answers.len(), 4);
    let results = answers.finish();
    assert_eq!(results.text.matches("Job <*> done").count(), 1, "written once: {}", results.text);
    let job = |n: &str| {
        let mut outcome = annotate_pattern("00ff", "Job <*> done");
        if let Outcome::Annotate(a) = &mut outcome {
            a.attributes.push(Attribute { key: "template_vars".into(), value: format!("[\"{n}\"]") });
        }
        outcome
    };
    assert_eq!(unpack(&results), [job("1"), job("22"), fail("no"), Outcome::Keep]);
}

#[test]
fn broken_spans_and_ranges_read_as_empty() {
    let bad = Span { start: 2, len: 100 };
    let results = wire::Results {
        text: "é!".into(),
        outcomes: vec![
            wire::Outcome::Fail(bad),
            wire::Outcome::Fail(Span { start: 1, len: 1 }),
            wire::Outcome::Replace(wire::Range { first: 3, count: 1 }),
            wire::Outcome::Annotate(wire::Annotation {
                level: Some(bad),
                pattern: None,
                insight: None,
                attributes: wire::Range { first: u32::MAX, count: u32::MAX },
            }),
        ],
        events: Vec::new(),
        attributes: Vec::new(),
    };
    let empty = crate::Annotation { level: Some(String::new()), pattern: None, insight: None, attributes: Vec::new() };
    assert_eq!(unpack(&results), [fail(""), fail(""), Outcome::Replace(Vec::new()), Outcome::Annotate(empty)]);
}

/// A guest that only implements the owned path.
struct Upper;

impl Guest for Upper {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Outcome> {
        batch
            .into_iter()
            .map(|mut event| {
                if event.message.is_empty() {
                    return fail("no message");
                }
                event.message = event.message.to_uppercase();
                Outcome::Replace(vec![event])
            })
            .collect()
    }
}

#[test]
fn the_default_fast_path_answers_as_the_owned_path() {
    let events = sample_events();
    let expected = Upper::process(events.clone());
    assert_eq!(crate::process_packed::<Upper>(&events), expected);
    assert!(matches!(&expected[0], Outcome::Replace(e) if e[0].message.contains("PAIEMENT REFUSÉ")));
}
