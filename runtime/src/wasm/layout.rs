//! The `batch-types` layout: events packed into one text buffer with spans into it on the way in,
//! and a guest's answer checked and unpacked into owned outcomes on the way out.
//!
//! The guest is not trusted: every span and range it returns is checked against the buffers it
//! returned, and the first bad one names the outcome and field, which fails the call as a broken
//! contract (the events then go wherever a failed call sends them; none is lost).

use std::collections::HashMap;
use std::sync::Arc;

use super::bindings::batch_types as bt;
use super::guest::Outcome;
use crate::event::{Annotation, Attribute, Event, PatternRef};

/// Why a batch cannot be laid out: its text would not fit the layout's 32-bit offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the batch holds {0} bytes of text, more than the batch layout's 4 GiB")]
pub struct TooLarge(pub usize);

/// Packs `events` (they stay with the caller) into the layout.
pub fn pack(events: &[Event]) -> Result<bt::Batch, TooLarge> {
    let mut out = Packer {
        text: String::with_capacity(events.iter().map(text_len).sum()),
        attributes: Vec::with_capacity(events.iter().map(|e| e.attributes.len()).sum()),
    };
    let events = events.iter().map(|e| out.event(e)).collect();
    let len = out.text.len();
    if u32::try_from(len).is_err() {
        return Err(TooLarge(len));
    }
    Ok(bt::Batch { text: out.text, events, attributes: out.attributes })
}

/// Every byte an event contributes to the text, so the buffer is allocated once.
fn text_len(e: &Event) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    e.id.len()
        + e.input.len()
        + e.level.len()
        + e.message.len()
        + opt(&e.source)
        + opt(&e.module)
        + opt(&e.function)
        + opt(&e.file)
        + opt(&e.topic)
        + opt(&e.user_id)
        + opt(&e.session_id)
        + opt(&e.trace_id)
        + opt(&e.raw)
        + opt(&e.insight)
        + e.pattern.as_ref().map_or(0, |p| p.id.len() + p.template.len())
        + e.attributes.iter().map(|a| a.key.len() + a.value.len()).sum::<usize>()
}

struct Packer {
    text: String,
    attributes: Vec<bt::Attribute>,
}

impl Packer {
    /// Appends `s`; offsets wrap past 4 GiB, which [`pack`] refuses before anyone reads them.
    fn span(&mut self, s: &str) -> bt::Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        bt::Span { start, len: s.len() as u32 }
    }

    fn opt(&mut self, s: &Option<String>) -> Option<bt::Span> {
        s.as_deref().map(|s| self.span(s))
    }

    fn event(&mut self, e: &Event) -> bt::Event {
        let first = self.attributes.len() as u32;
        for a in &e.attributes {
            let attribute = bt::Attribute { key: self.span(&a.key), value: self.span(&a.value) };
            self.attributes.push(attribute);
        }
        bt::Event {
            id: self.span(&e.id),
            timestamp_ns: e.timestamp_ns,
            received_ns: e.received_ns,
            input: self.span(&e.input),
            level: self.span(&e.level),
            source: self.opt(&e.source),
            module: self.opt(&e.module),
            function: self.opt(&e.function),
            file: self.opt(&e.file),
            line: e.line,
            topic: self.opt(&e.topic),
            message: self.span(&e.message),
            user_id: self.opt(&e.user_id),
            session_id: self.opt(&e.session_id),
            trace_id: self.opt(&e.trace_id),
            attributes: bt::Range { first, count: e.attributes.len() as u32 },
            raw: self.opt(&e.raw),
            pattern: e
                .pattern
                .as_ref()
                .map(|p| bt::PatternRef { id: self.span(&p.id), template: self.span(&p.template) }),
            insight: self.opt(&e.insight),
        }
    }
}

/// Checks a guest's answer and turns it into owned outcomes, one per event of a batch of `len`.
pub fn unpack(results: &bt::Results, len: usize) -> Result<Vec<Outcome>, String> {
    if results.outcomes.len() != len {
        return Err(format!("returned {} outcomes for {len} events", results.outcomes.len()));
    }
    let mut reader = Reader { results, shared: HashMap::new() };
    let mut outcomes = Vec::with_capacity(len);
    for (i, outcome) in results.outcomes.iter().enumerate() {
        outcomes.push(reader.outcome(outcome).map_err(|e| format!("outcome {i}: {e}"))?);
    }
    Ok(outcomes)
}

struct Reader<'a> {
    results: &'a bt::Results,
    /// Pattern strings already read, by span: a mining stage writes each pattern's id and
    /// template once per batch and points every event of the pattern at them, so the events
    /// share one copy.
    shared: HashMap<(u32, u32), Arc<str>>,
}

impl<'a> Reader<'a> {
    fn str(&self, span: bt::Span, field: &str) -> Result<String, String> {
        self.text(span, field).map(str::to_owned)
    }

    /// The text `span` covers, or why it covers none.
    fn text(&self, span: bt::Span, field: &str) -> Result<&'a str, String> {
        let text: &'a str = &self.results.text;
        (span.start as usize)
            .checked_add(span.len as usize)
            .and_then(|end| text.get(span.start as usize..end))
            .ok_or_else(|| {
                format!(
                    "`{field}` spans bytes {}..+{} of a {}-byte text, outside it or not on character boundaries",
                    span.start,
                    span.len,
                    text.len()
                )
            })
    }

    fn opt(&self, span: Option<bt::Span>, field: &str) -> Result<Option<String>, String> {
        span.map(|s| self.str(s, field)).transpose()
    }

    fn slice<'s, T>(&self, list: &'s [T], range: bt::Range, field: &str) -> Result<&'s [T], String> {
        (range.first as usize)
            .checked_add(range.count as usize)
            .and_then(|end| list.get(range.first as usize..end))
            .ok_or_else(|| {
                format!("`{field}` names entries {}..+{} of a list of {}", range.first, range.count, list.len())
            })
    }

    fn attributes(&self, range: bt::Range) -> Result<Vec<Attribute>, String> {
        self.slice(&self.results.attributes, range, "attributes")?
            .iter()
            .map(|a| {
                Ok(Attribute { key: self.str(a.key, "attribute key")?, value: self.str(a.value, "attribute value")? })
            })
            .collect()
    }

    /// The text of `span`, shared with every earlier read of the same span.
    fn shared(&mut self, span: bt::Span, field: &str) -> Result<Arc<str>, String> {
        if let Some(text) = self.shared.get(&(span.start, span.len)) {
            return Ok(text.clone());
        }
        let text: Arc<str> = self.text(span, field)?.into();
        self.shared.insert((span.start, span.len), text.clone());
        Ok(text)
    }

    fn pattern(&mut self, p: Option<bt::PatternRef>) -> Result<Option<PatternRef>, String> {
        let Some(p) = p else { return Ok(None) };
        let id = self.shared(p.id, "pattern id")?;
        Ok(Some(PatternRef { id, template: self.shared(p.template, "pattern template")? }))
    }

    fn outcome(&mut self, outcome: &bt::Outcome) -> Result<Outcome, String> {
        let results = self.results;
        Ok(match *outcome {
            bt::Outcome::Keep => Outcome::Keep,
            bt::Outcome::Annotate(a) => Outcome::Annotate(Annotation {
                level: self.opt(a.level, "level")?,
                pattern: self.pattern(a.pattern)?,
                insight: self.opt(a.insight, "insight")?,
                attributes: self.attributes(a.attributes)?,
            }),
            bt::Outcome::Replace(range) => Outcome::Replace(
                self.slice(&results.events, range, "replace")?
                    .iter()
                    .map(|e| self.event(e))
                    .collect::<Result<_, _>>()?,
            ),
            bt::Outcome::Fail(reason) => Outcome::Fail(self.str(reason, "fail")?),
        })
    }

    fn event(&mut self, e: &bt::Event) -> Result<Event, String> {
        Ok(Event {
            id: self.str(e.id, "id")?,
            timestamp_ns: e.timestamp_ns,
            received_ns: e.received_ns,
            input: self.str(e.input, "input")?,
            level: self.str(e.level, "level")?,
            source: self.opt(e.source, "source")?,
            module: self.opt(e.module, "module")?,
            function: self.opt(e.function, "function")?,
            file: self.opt(e.file, "file")?,
            line: e.line,
            topic: self.opt(e.topic, "topic")?,
            message: self.str(e.message, "message")?,
            user_id: self.opt(e.user_id, "user_id")?,
            session_id: self.opt(e.session_id, "session_id")?,
            trace_id: self.opt(e.trace_id, "trace_id")?,
            attributes: self.attributes(e.attributes)?,
            raw: self.opt(e.raw, "raw")?,
            pattern: self.pattern(e.pattern)?,
            insight: self.opt(e.insight, "insight")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_event(n: u32) -> Event {
        Event {
            id: format!("id-{n}"),
            timestamp_ns: 1_700_000_000_000_000_000 + i64::from(n),
            received_ns: 42,
            input: "http".into(),
            level: "ERROR".into(),
            source: Some("api".into()),
            module: Some("mod".into()),
            function: Some("handler".into()),
            file: Some("src/é.rs".into()),
            line: Some(n),
            topic: Some("logs.api".into()),
            message: format!("naïve message {n} ✓"),
            user_id: Some("u1".into()),
            session_id: None,
            trace_id: Some(String::new()),
            attributes: vec![
                Attribute { key: "k".into(), value: "1".into() },
                Attribute { key: "ключ".into(), value: r#""v""#.into() },
            ],
            raw: None,
            pattern: Some(PatternRef { id: "p1".into(), template: "naïve message <*> ✓".into() }),
            insight: Some("{}".into()),
        }
    }

    /// What a guest that answers `replace` with the event itself would send back: the batch's
    /// own buffers, reused as the answer's.
    fn echo(batch: bt::Batch) -> bt::Results {
        let outcomes = (0..batch.events.len() as u32).map(|i| bt::Outcome::Replace(bt::Range { first: i, count: 1 }));
        bt::Results {
            outcomes: outcomes.collect(),
            text: batch.text,
            events: batch.events,
            attributes: batch.attributes,
        }
    }

    #[test]
    fn packing_then_unpacking_gives_the_events_back() {
        let events: Vec<Event> = (0..5).map(full_event).chain([Event::default()]).collect();
        let batch = pack(&events).expect("fits");
        assert_eq!(batch.text.len(), events.iter().map(text_len).sum::<usize>());
        assert_eq!(batch.attributes.len(), 10);
        let outcomes = unpack(&echo(batch), events.len()).expect("valid answer");
        let back: Vec<Event> = outcomes
            .into_iter()
            .flat_map(|o| match o {
                Outcome::Replace(events) => events,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(back, events);
    }

    #[test]
    fn every_outcome_kind_is_read() {
        let text = "WARNINGp7a <*>template_vars[\"x\"]dropped: bad".to_string();
        let span = |start: u32, len: u32| bt::Span { start, len };
        let results = bt::Results {
            text,
            outcomes: vec![
                bt::Outcome::Keep,
                bt::Outcome::Annotate(bt::Annotation {
                    level: Some(span(0, 7)),
                    pattern: Some(bt::PatternRef { id: span(7, 2), template: span(9, 5) }),
                    insight: None,
                    attributes: bt::Range { first: 0, count: 1 },
                }),
                bt::Outcome::Replace(bt::Range { first: 0, count: 0 }),
                bt::Outcome::Fail(span(32, 12)),
            ],
            events: Vec::new(),
            attributes: vec![bt::Attribute { key: span(14, 13), value: span(27, 5) }],
        };
        let outcomes = unpack(&results, 4).expect("valid answer");
        assert_eq!(outcomes[0], Outcome::Keep);
        assert_eq!(
            outcomes[1],
            Outcome::Annotate(Annotation {
                level: Some("WARNING".into()),
                pattern: Some(PatternRef { id: "p7".into(), template: "a <*>".into() }),
                insight: None,
                attributes: vec![Attribute { key: "template_vars".into(), value: r#"["x"]"#.into() }],
            })
        );
        assert_eq!(outcomes[2], Outcome::Replace(Vec::new()));
        assert_eq!(outcomes[3], Outcome::Fail("dropped: bad".into()));
    }

    #[test]
    fn events_of_one_pattern_share_its_strings() {
        let span = |start: u32, len: u32| bt::Span { start, len };
        let annotate = |template: bt::Span| {
            bt::Outcome::Annotate(bt::Annotation {
                level: None,
                pattern: Some(bt::PatternRef { id: span(0, 2), template }),
                insight: None,
                attributes: bt::Range { first: 0, count: 0 },
            })
        };
        let results = bt::Results {
            text: "p1a <*>a b".into(),
            outcomes: vec![annotate(span(2, 5)), annotate(span(2, 5)), annotate(span(7, 3))],
            events: Vec::new(),
            attributes: Vec::new(),
        };
        let patterns: Vec<PatternRef> = unpack(&results, 3)
            .expect("valid answer")
            .into_iter()
            .map(|o| match o {
                Outcome::Annotate(Annotation { pattern: Some(p), .. }) => p,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert!(Arc::ptr_eq(&patterns[0].id, &patterns[2].id));
        assert!(Arc::ptr_eq(&patterns[0].template, &patterns[1].template));
        // A template that changed within the batch is another span, so another string.
        assert_eq!((&*patterns[1].template, &*patterns[2].template), ("a <*>", "a b"));
    }

    #[test]
    fn a_hostile_answer_is_refused_with_the_place_named() {
        let base = || bt::Results { text: "héllo".into(), outcomes: vec![], events: vec![], attributes: vec![] };
        let fail = |start, len| bt::Outcome::Fail(bt::Span { start, len });

        let wrong_count = bt::Results { outcomes: vec![bt::Outcome::Keep], ..base() };
        assert_eq!(unpack(&wrong_count, 2).expect_err("refused"), "returned 1 outcomes for 2 events");

        let outside = bt::Results { outcomes: vec![bt::Outcome::Keep, fail(4, 9)], ..base() };
        let err = unpack(&outside, 2).expect_err("refused");
        assert_eq!(
            err,
            "outcome 1: `fail` spans bytes 4..+9 of a 6-byte text, outside it or not on character boundaries"
        );

        // Byte 2 is inside the two-byte `é`.
        let split_char = bt::Results { outcomes: vec![fail(0, 2)], ..base() };
        assert!(unpack(&split_char, 1).expect_err("refused").contains("not on character boundaries"));

        let overflow = bt::Results { outcomes: vec![fail(u32::MAX, u32::MAX)], ..base() };
        assert!(unpack(&overflow, 1).is_err());

        let no_events =
            bt::Results { outcomes: vec![bt::Outcome::Replace(bt::Range { first: 0, count: 1 })], ..base() };
        assert_eq!(
            unpack(&no_events, 1).expect_err("refused"),
            "outcome 0: `replace` names entries 0..+1 of a list of 0"
        );
    }
}
