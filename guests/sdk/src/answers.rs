//! Building a stage's answer to a batch in the `batch-types` layout.
//!
//! One outcome per event, in order. Owned outcomes can be pushed as they are ([`Answers::push`]);
//! a hot loop can instead write strings once into the answer's text buffer and refer to them by
//! span as often as it likes ([`Answers::span`], [`Answers::span_with`], [`Answers::annotate`]).

use crate::encode::Encoder;
use crate::span::text_at;
use crate::types::{Annotation, Outcome};
use crate::wire::{self, Span};

/// The outcomes of one batch being written, with the text and side lists they refer to.
#[derive(Debug, Default)]
pub struct Answers {
    encoder: Encoder,
    outcomes: Vec<wire::Outcome>,
}

impl Answers {
    /// No outcomes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// No outcomes yet, with room for `outcomes` of them and `text` bytes of strings.
    pub fn with_capacity(outcomes: usize, text: usize) -> Self {
        Self {
            encoder: Encoder { text: String::with_capacity(text), ..Encoder::default() },
            outcomes: Vec::with_capacity(outcomes),
        }
    }

    /// Makes room for `additional` more bytes of strings.
    pub fn reserve_text(&mut self, additional: usize) {
        self.encoder.text.reserve(additional);
    }

    /// Number of outcomes written.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether no outcome was written yet.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// Appends `s` to the text; the span can be used in any number of outcomes of this answer.
    pub fn span(&mut self, s: &str) -> Span {
        self.encoder.span(s)
    }

    /// Lets `write` append to the text directly (JSON, say, with no string in between), and
    /// returns the span of what it appended.
    ///
    /// `write` must only append: the text before it holds the strings of earlier spans.
    pub fn span_with(&mut self, write: impl FnOnce(&mut String)) -> Span {
        self.encoder.span_with(write)
    }

    /// The text `span` covers, `""` when it is not a span of this answer.
    pub fn text_of(&self, span: Span) -> &str {
        text_at(&self.encoder.text, span)
    }

    /// The event passes on unchanged.
    pub fn keep(&mut self) {
        self.outcomes.push(wire::Outcome::Keep);
    }

    /// The event goes to the dead-letter store with `reason`.
    pub fn fail(&mut self, reason: &str) {
        let reason = self.span(reason);
        self.fail_span(reason);
    }

    /// As [`Self::fail`], with a reason already in the text.
    pub fn fail_span(&mut self, reason: Span) {
        self.outcomes.push(wire::Outcome::Fail(reason));
    }

    /// The event passes on with these changes, whose strings are already in the text: a level,
    /// a pattern, an insight, and attributes to add.
    pub fn annotate(
        &mut self,
        level: Option<Span>,
        pattern: Option<wire::PatternRef>,
        insight: Option<Span>,
        attributes: &[wire::Attribute],
    ) {
        let attributes = self.encoder.attribute_spans(attributes);
        self.outcomes.push(wire::Outcome::Annotate(wire::Annotation { level, pattern, insight, attributes }));
    }

    /// Writes an owned outcome, strings, replacement events and attributes included.
    pub fn push(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Keep => self.keep(),
            Outcome::Annotate(annotation) => self.push_annotation(&annotation),
            Outcome::Replace(events) => {
                let events = self.encoder.events(&events);
                self.outcomes.push(wire::Outcome::Replace(events));
            }
            Outcome::Fail(reason) => self.fail(&reason),
        }
    }

    fn push_annotation(&mut self, annotation: &Annotation) {
        let level = annotation.level.as_deref().map(|level| self.span(level));
        let pattern = annotation.pattern.as_ref().map(|pattern| self.encoder.pattern(pattern));
        let insight = annotation.insight.as_deref().map(|insight| self.span(insight));
        let attributes = self.encoder.attributes(&annotation.attributes);
        self.outcomes.push(wire::Outcome::Annotate(wire::Annotation { level, pattern, insight, attributes }));
    }

    /// The finished answer.
    pub fn finish(self) -> wire::Results {
        let Encoder { text, events, attributes } = self.encoder;
        wire::Results { text, outcomes: self.outcomes, events, attributes }
    }
}
