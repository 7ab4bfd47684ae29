//! Writing owned values into the batch layout: strings appended to one text buffer, events and
//! attributes to their side lists.
//!
//! Shared by [`Answers`](crate::Answers), which builds a stage's results, and
//! [`pack`](crate::pack), which builds a batch the way the host would.

use crate::span::{range_from, span_from};
use crate::types::{Attribute, Event, PatternRef};
use crate::wire;

/// The three buffers of the layout being filled.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    pub(crate) text: String,
    pub(crate) events: Vec<wire::Event>,
    pub(crate) attributes: Vec<wire::Attribute>,
}

impl Encoder {
    /// Appends `s` to the text.
    pub(crate) fn span(&mut self, s: &str) -> wire::Span {
        let start = self.text.len();
        self.text.push_str(s);
        span_from(start, &self.text)
    }

    /// Appends whatever `write` appends to the text.
    pub(crate) fn span_with(&mut self, write: impl FnOnce(&mut String)) -> wire::Span {
        let start = self.text.len();
        write(&mut self.text);
        span_from(start, &self.text)
    }

    fn optional(&mut self, s: Option<&str>) -> Option<wire::Span> {
        s.map(|s| self.span(s))
    }

    /// Appends a pattern's strings.
    pub(crate) fn pattern(&mut self, pattern: &PatternRef) -> wire::PatternRef {
        wire::PatternRef { id: self.span(&pattern.id), template: self.span(&pattern.template) }
    }

    /// Appends attributes whose strings are already in the text.
    pub(crate) fn attribute_spans(&mut self, attributes: &[wire::Attribute]) -> wire::Range {
        let first = self.attributes.len();
        self.attributes.extend_from_slice(attributes);
        range_from(first, &self.attributes)
    }

    /// Appends attributes and their strings.
    pub(crate) fn attributes(&mut self, attributes: &[Attribute]) -> wire::Range {
        let first = self.attributes.len();
        self.attributes.reserve(attributes.len());
        for attribute in attributes {
            let key = self.span(&attribute.key);
            let value = self.span(&attribute.value);
            self.attributes.push(wire::Attribute { key, value });
        }
        range_from(first, &self.attributes)
    }

    /// Appends events, their attributes and their strings.
    pub(crate) fn events(&mut self, events: &[Event]) -> wire::Range {
        let first = self.events.len();
        self.events.reserve(events.len());
        for event in events {
            let encoded = self.event(event);
            self.events.push(encoded);
        }
        range_from(first, &self.events)
    }

    /// Appends one event's strings and attributes; the event record itself is returned, not
    /// appended.
    fn event(&mut self, event: &Event) -> wire::Event {
        wire::Event {
            id: self.span(&event.id),
            timestamp_ns: event.timestamp_ns,
            received_ns: event.received_ns,
            input: self.span(&event.input),
            level: self.span(&event.level),
            source: self.optional(event.source.as_deref()),
            module: self.optional(event.module.as_deref()),
            function: self.optional(event.function.as_deref()),
            file: self.optional(event.file.as_deref()),
            line: event.line,
            topic: self.optional(event.topic.as_deref()),
            message: self.span(&event.message),
            user_id: self.optional(event.user_id.as_deref()),
            session_id: self.optional(event.session_id.as_deref()),
            trace_id: self.optional(event.trace_id.as_deref()),
            attributes: self.attributes(&event.attributes),
            raw: self.optional(event.raw.as_deref()),
            pattern: event.pattern.as_ref().map(|p| self.pattern(p)),
            insight: self.optional(event.insight.as_deref()),
        }
    }
}
