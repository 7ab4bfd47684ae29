//! Reading a batch where it lies: events whose fields borrow from the batch's one text buffer.
//!
//! [`BatchView`] is what [`Guest::process_batch`](crate::Guest::process_batch) receives. Every
//! accessor is total: a span or range the host got wrong reads as empty rather than panicking.

use crate::span::{entries_at, text_at};
use crate::types::{Attribute, Event, PatternRef};
use crate::wire;

/// A batch of events in the `batch-types` layout, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    text: &'a str,
    events: &'a [wire::Event],
    attributes: &'a [wire::Attribute],
}

impl<'a> BatchView<'a> {
    /// A view of `batch`.
    pub fn new(batch: &'a wire::Batch) -> Self {
        Self { text: &batch.text, events: &batch.events, attributes: &batch.attributes }
    }

    /// A view of events laid out in `text` and `attributes` (the replacement events of a
    /// [`wire::Results`], say).
    pub(crate) fn from_parts(text: &'a str, events: &'a [wire::Event], attributes: &'a [wire::Attribute]) -> Self {
        Self { text, events, attributes }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the batch has no events (a tick).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The batch's text buffer, which every string of it is a part of.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The event at `index`.
    pub fn get(&self, index: usize) -> Option<EventView<'a>> {
        self.events.get(index).map(|event| self.view(event))
    }

    /// The events, in order.
    pub fn events(&self) -> impl ExactSizeIterator<Item = EventView<'a>> + DoubleEndedIterator + 'a {
        let this = *self;
        self.events.iter().map(move |event| this.view(event))
    }

    /// Owned copies of all events.
    pub fn to_events(&self) -> Vec<Event> {
        self.events().map(|event| event.to_event()).collect()
    }

    fn view(&self, event: &'a wire::Event) -> EventView<'a> {
        EventView { text: self.text, attributes: self.attributes, event }
    }
}

/// One event of a [`BatchView`]: its fields, borrowed from the batch.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    text: &'a str,
    attributes: &'a [wire::Attribute],
    event: &'a wire::Event,
}

impl<'a> EventView<'a> {
    fn str(&self, span: wire::Span) -> &'a str {
        text_at(self.text, span)
    }

    fn optional(&self, span: Option<wire::Span>) -> Option<&'a str> {
        span.map(|span| self.str(span))
    }

    /// The record as it crossed the boundary: spans into the batch's text.
    pub fn record(&self) -> &'a wire::Event {
        self.event
    }

    /// Unique id assigned by the host at ingest.
    pub fn id(&self) -> &'a str {
        self.str(self.event.id)
    }

    /// When the event happened: nanoseconds since the Unix epoch, UTC.
    pub fn timestamp_ns(&self) -> i64 {
        self.event.timestamp_ns
    }

    /// When the host received the event: nanoseconds since the Unix epoch, UTC.
    pub fn received_ns(&self) -> i64 {
        self.event.received_ns
    }

    /// The input that received the event.
    pub fn input(&self) -> &'a str {
        self.str(self.event.input)
    }

    /// Canonical level, empty until a stage sets it.
    pub fn level(&self) -> &'a str {
        self.str(self.event.level)
    }

    /// The emitting service or subsystem.
    pub fn source(&self) -> Option<&'a str> {
        self.optional(self.event.source)
    }

    /// The code module that logged the event.
    pub fn module(&self) -> Option<&'a str> {
        self.optional(self.event.module)
    }

    /// The function that logged the event.
    pub fn function(&self) -> Option<&'a str> {
        self.optional(self.event.function)
    }

    /// The source file that logged the event.
    pub fn file(&self) -> Option<&'a str> {
        self.optional(self.event.file)
    }

    /// The line in [`Self::file`].
    pub fn line(&self) -> Option<u32> {
        self.event.line
    }

    /// Routing topic.
    pub fn topic(&self) -> Option<&'a str> {
        self.optional(self.event.topic)
    }

    /// The human-readable message.
    pub fn message(&self) -> &'a str {
        self.str(self.event.message)
    }

    /// The user the event concerns.
    pub fn user_id(&self) -> Option<&'a str> {
        self.optional(self.event.user_id)
    }

    /// The session the event belongs to.
    pub fn session_id(&self) -> Option<&'a str> {
        self.optional(self.event.session_id)
    }

    /// The distributed trace the event belongs to.
    pub fn trace_id(&self) -> Option<&'a str> {
        self.optional(self.event.trace_id)
    }

    /// The open attributes, in order, as `(key, value)`; values are JSON text.
    pub fn attributes(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + DoubleEndedIterator + 'a {
        let text = self.text;
        entries_at(self.attributes, self.event.attributes)
            .iter()
            .map(move |attribute| (text_at(text, attribute.key), text_at(text, attribute.value)))
    }

    /// The record as received, until a stage has parsed it.
    pub fn raw(&self) -> Option<&'a str> {
        self.optional(self.event.raw)
    }

    /// The event's pattern, as `(id, template)`.
    pub fn pattern(&self) -> Option<(&'a str, &'a str)> {
        self.event.pattern.map(|pattern| (self.str(pattern.id), self.str(pattern.template)))
    }

    /// The event's insight (JSON object text).
    pub fn insight(&self) -> Option<&'a str> {
        self.optional(self.event.insight)
    }

    /// An owned copy of the event.
    pub fn to_event(&self) -> Event {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        Event {
            id: self.id().to_owned(),
            timestamp_ns: self.timestamp_ns(),
            received_ns: self.received_ns(),
            input: self.input().to_owned(),
            level: self.level().to_owned(),
            source: owned(self.source()),
            module: owned(self.module()),
            function: owned(self.function()),
            file: owned(self.file()),
            line: self.line(),
            topic: owned(self.topic()),
            message: self.message().to_owned(),
            user_id: owned(self.user_id()),
            session_id: owned(self.session_id()),
            trace_id: owned(self.trace_id()),
            attributes: self
                .attributes()
                .map(|(key, value)| Attribute { key: key.to_owned(), value: value.to_owned() })
                .collect(),
            raw: owned(self.raw()),
            pattern: self
                .pattern()
                .map(|(id, template)| PatternRef { id: id.to_owned(), template: template.to_owned() }),
            insight: owned(self.insight()),
        }
    }
}
