//! Converting between owned values and the batch layout the way the host does, for tests.
//!
//! [`pack`] lays out events as the host sends them, [`unpack`] reads a stage's answer back into
//! owned outcomes. Together they let a native test drive a guest's
//! [`process_batch`](crate::Guest::process_batch) exactly as the host would, and compare it with
//! [`process`](crate::Guest::process); [`process_packed`] does all three steps.

use crate::batch::BatchView;
use crate::encode::Encoder;
use crate::guest::{Guest, answer};
use crate::span::{entries_at, text_at};
use crate::types::{Annotation, Attribute, Outcome, PatternRef};
use crate::{Event, wire};

/// `events` as one batch.
pub fn pack(events: &[Event]) -> wire::Batch {
    let mut encoder = Encoder::default();
    encoder.events(events);
    let Encoder { text, events, attributes } = encoder;
    wire::Batch { text, events, attributes }
}

/// The outcomes of `results`, owned. Spans and ranges that do not fit read as empty.
pub fn unpack(results: &wire::Results) -> Vec<Outcome> {
    let text = results.text.as_str();
    let str = |span: wire::Span| text_at(text, span).to_owned();
    results
        .outcomes
        .iter()
        .map(|outcome| match *outcome {
            wire::Outcome::Keep => Outcome::Keep,
            wire::Outcome::Annotate(annotation) => Outcome::Annotate(Annotation {
                level: annotation.level.map(str),
                pattern: annotation.pattern.map(|p| PatternRef { id: str(p.id), template: str(p.template) }),
                insight: annotation.insight.map(str),
                attributes: entries_at(&results.attributes, annotation.attributes)
                    .iter()
                    .map(|a| Attribute { key: str(a.key), value: str(a.value) })
                    .collect(),
            }),
            wire::Outcome::Replace(range) => Outcome::Replace(
                BatchView::from_parts(text, entries_at(&results.events, range), &results.attributes).to_events(),
            ),
            wire::Outcome::Fail(reason) => Outcome::Fail(str(reason)),
        })
        .collect()
}

/// The outcomes `G` answers for `events` when they cross the boundary as the host sends them:
/// packed, handed to [`Guest::process_batch`] as the exported stage does, and unpacked.
pub fn process_packed<G: Guest + ?Sized>(events: &[Event]) -> Vec<Outcome> {
    unpack(&answer::<G>(&pack(events)))
}
