//! Normalizing one event: the whole decision, independent of the host bindings' plumbing.

use sluice_guest::{Annotation, Event, Outcome};

use crate::config::Settings;
use crate::fields::Field;
use crate::record::{self, Parsed};
use crate::{json, logfmt, plain};

/// Normalizes `event`.
///
/// An event with `raw` is parsed (JSON object, else logfmt, else plain text) and replaced by the
/// structured event, `raw` cleared; host-assigned fields (`id`, `received-ns`, `input`) are kept,
/// and `timestamp-ns` stays the ingest time unless the record has a usable one. An event without
/// `raw` only gets its level harmonized: answered as an annotation (nothing else crosses back),
/// or kept as is when that changes nothing.
pub fn normalize(mut event: Event, settings: &Settings) -> Outcome {
    let Some(raw) = event.raw.take() else {
        let before = event.attributes.len();
        if !record::harmonize_level(&mut event, settings) {
            return Outcome::Keep;
        }
        return Outcome::Annotate(Annotation {
            level: Some(event.level),
            pattern: None,
            insight: None,
            attributes: event.attributes.split_off(before),
        });
    };
    let parsed = parse_raw(&raw, settings);
    record::apply(&mut event, parsed, settings);
    Outcome::Replace(vec![event])
}

/// Parses a raw record, trying the formats from the most to the least structured. Malformed JSON
/// is read as plain text: the record is kept, just less structured.
fn parse_raw<'a>(raw: &'a str, settings: &Settings) -> Parsed<'a> {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') {
        if let Some(pairs) = json::parse_object(trimmed) {
            return record::assemble(pairs, settings);
        }
    } else if let Some(pairs) = logfmt::parse_line(trimmed) {
        let mut parsed = record::assemble(pairs, settings);
        // A logfmt line without a message is still readable as one; keep it whole rather than
        // leave the message empty.
        if parsed.texts[Field::Message.index()].is_none() {
            parsed.set(Field::Message, trimmed.into());
        }
        return parsed;
    }
    plain::parse_line(trimmed)
}
