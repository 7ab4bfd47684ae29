//! From a record's key/value pairs to the fields of an event.
//!
//! JSON objects and logfmt lines are both lists of key/value pairs; they differ only in how a
//! value is written. Both parsers produce [`Item`]s, and this module applies the one set of rules:
//! which key fills which field (best-ranked spelling wins), which become attributes, and how levels
//! and timestamps are interpreted. Nothing is dropped: a value that cannot fill its field stays as
//! an attribute.

use std::borrow::Cow;

use sluice_guest::{Attribute, Event, to_json_string};

use crate::attrs;
use crate::config::Settings;
use crate::fields::{self, Field, KeyKind};
use crate::json;
use crate::level::Level;
use crate::time;

/// One value of a record, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// JSON text of any kind (string with its quotes, number, object...).
    Json(&'a str),
    /// Plain text (a logfmt value, unquoted and unescaped).
    Text(Cow<'a, str>),
}

impl<'a> Item<'a> {
    /// The value as text when it is a scalar: a JSON string decoded, a number or boolean as
    /// written. `None` for JSON `null`, objects and arrays, and for empty text.
    fn scalar(&self) -> Option<Cow<'a, str>> {
        let text = match self {
            Self::Json(raw) => match raw.as_bytes().first()? {
                b'"' => json::decode_string(raw)?,
                b'-' | b'0'..=b'9' | b't' | b'f' => Cow::Borrowed(*raw),
                _ => return None,
            },
            Self::Text(text) => text.clone(),
        };
        (!text.trim().is_empty()).then_some(text)
    }

    /// The value as JSON text, for an attribute.
    fn into_json(self) -> String {
        match self {
            Self::Json(raw) => raw.to_owned(),
            Self::Text(text) => to_json_string(&text),
        }
    }
}

/// What a record says about an event, ready to be applied to it.
#[derive(Debug, Default)]
pub struct Parsed<'a> {
    /// Text fields, indexed by [`Field::index`]; `Level`, `Timestamp` and `Line` stay empty here.
    pub texts: [Option<Cow<'a, str>>; Field::COUNT],
    pub level: Option<Level>,
    pub timestamp_ns: Option<i64>,
    pub line: Option<u32>,
    /// Whether a level was present but not understood (the event then gets the default level).
    pub unknown_level: bool,
    pub attributes: Vec<Attribute>,
}

impl<'a> Parsed<'a> {
    /// Sets a text field.
    pub fn set(&mut self, field: Field, value: Cow<'a, str>) {
        if let Some(slot) = self.texts.get_mut(field.index()) {
            *slot = Some(value);
        }
    }

    fn take(&mut self, field: Field) -> Option<String> {
        self.texts.get_mut(field.index())?.take().map(Cow::into_owned)
    }
}

/// The value `item` gives `field`, or `None` when it cannot fill it.
fn candidate<'a>(field: Field, item: &Item<'a>) -> Option<Cow<'a, str>> {
    match (field, item) {
        // A structured message is still a message; keep it as JSON text.
        (Field::Message, Item::Json(raw)) if raw.starts_with(['{', '[']) => Some(Cow::Borrowed(raw)),
        (Field::Line, _) => item.scalar().filter(|t| t.trim().parse::<u32>().is_ok()),
        _ => item.scalar(),
    }
}

/// Builds the event fields from a record's pairs, in received order.
pub fn assemble<'a>(pairs: Vec<(Cow<'a, str>, Item<'a>)>, settings: &Settings) -> Parsed<'a> {
    let max = settings.max_attribute_bytes;
    let mut parsed = Parsed::default();
    // First pass: the best-ranked usable spelling of each field.
    let mut winners: [Option<(u8, usize)>; Field::COUNT] = [None; Field::COUNT];
    let mut event_type = None;
    for (index, (key, item)) in pairs.iter().enumerate() {
        let KeyKind::Field { field, rank } = fields::classify(key) else {
            continue;
        };
        let Some(value) = candidate(field, item) else {
            continue;
        };
        if key == fields::EVENT_TYPE {
            event_type = Some(value.clone());
        }
        let Some(best) = winners.get_mut(field.index()) else {
            continue;
        };
        if best.is_none_or(|(best_rank, _)| rank < best_rank) {
            *best = Some((rank, index));
            parsed.set(field, value);
        }
    }
    // Second pass: everything that did not fill a field becomes an attribute.
    for (index, (key, item)) in pairs.into_iter().enumerate() {
        if !winners.iter().flatten().any(|&(_, won)| won == index) {
            push_attributes(&mut parsed.attributes, key, item, max);
        }
    }
    if let Some(text) = parsed.texts[Field::Level.index()].take() {
        parsed.level = Level::parse(&text);
        if parsed.level.is_none() {
            parsed.unknown_level = true;
            let original = original_json(&text);
            attrs::push(&mut parsed.attributes, "original_level".into(), original, max);
        }
    }
    if let Some(text) = parsed.texts[Field::Timestamp.index()].take() {
        parsed.timestamp_ns = time::parse(&text);
        if parsed.timestamp_ns.is_none() {
            let original = original_json(&text);
            attrs::push(&mut parsed.attributes, "original_timestamp".into(), original, max);
        }
    }
    if let Some(text) = parsed.texts[Field::Line.index()].take() {
        parsed.line = text.trim().parse().ok();
    }
    if parsed.texts[Field::Message.index()].is_none() {
        parsed.texts[Field::Message.index()] = event_type;
    }
    parsed
}

/// Keeps a pair as attributes: the members of a container object one level down, anything else
/// under its own key.
fn push_attributes(attributes: &mut Vec<Attribute>, key: Cow<'_, str>, item: Item<'_>, max: usize) {
    if let (KeyKind::Container, Item::Json(raw)) = (fields::classify(&key), &item)
        && raw.starts_with('{')
        && let Some(members) = json::parse_object(raw)
    {
        for (member, value) in members {
            attrs::push(attributes, member.into_owned(), value.into_json(), max);
        }
        return;
    }
    attrs::push(attributes, key.into_owned(), item.into_json(), max);
}

/// How an uninterpretable level or timestamp is kept: numbers as numbers, text as a JSON string.
fn original_json(text: &str) -> String {
    if serde_json::from_str::<f64>(text).is_ok() { text.to_owned() } else { to_json_string(text) }
}

/// Writes `parsed` into `event`. Fields the record did not mention keep what the event had; the
/// level always ends up canonical.
pub fn apply(event: &mut Event, mut parsed: Parsed<'_>, settings: &Settings) {
    if let Some(message) = parsed.take(Field::Message) {
        event.message = message;
    }
    let slots = [
        (Field::Source, &mut event.source),
        (Field::Module, &mut event.module),
        (Field::Function, &mut event.function),
        (Field::File, &mut event.file),
        (Field::Topic, &mut event.topic),
        (Field::User, &mut event.user_id),
        (Field::Session, &mut event.session_id),
        (Field::Trace, &mut event.trace_id),
    ];
    for (field, slot) in slots {
        if let Some(value) = parsed.take(field) {
            *slot = Some(value);
        }
    }
    if parsed.line.is_some() {
        event.line = parsed.line;
    }
    if let Some(ns) = parsed.timestamp_ns {
        event.timestamp_ns = ns;
    }
    match parsed.level {
        Some(level) => set_level(event, level),
        None if parsed.unknown_level => set_level(event, settings.default_level),
        None => {
            harmonize_level(event, settings);
        }
    }
    if event.attributes.is_empty() {
        event.attributes = parsed.attributes;
    } else {
        event.attributes.append(&mut parsed.attributes);
    }
}

/// Makes the event's existing level canonical: a known spelling is mapped, an empty one gets the
/// default, an unknown one gets the default and is kept as the attribute `original_level`.
/// Returns whether anything changed.
pub fn harmonize_level(event: &mut Event, settings: &Settings) -> bool {
    let level = match Level::parse(&event.level) {
        Some(level) => level,
        None if event.level.is_empty() => settings.default_level,
        None => {
            let original = to_json_string(&event.level);
            let max = settings.max_attribute_bytes;
            attrs::push(&mut event.attributes, "original_level".into(), original, max);
            settings.default_level
        }
    };
    if event.level == level.as_str() {
        return false;
    }
    set_level(event, level);
    true
}

fn set_level(event: &mut Event, level: Level) {
    event.level.clear();
    event.level.push_str(level.as_str());
}
