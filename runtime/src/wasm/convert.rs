//! Moves events between the host model and the WIT types. Fields are moved, never copied, except
//! a pattern's id and template, which the host model shares.

use super::bindings::types as wit;
use crate::event::{Annotation, Attribute, Event, PatternRef};

pub fn to_wit(e: Event) -> wit::Event {
    wit::Event {
        id: e.id,
        timestamp_ns: e.timestamp_ns,
        received_ns: e.received_ns,
        input: e.input,
        level: e.level,
        source: e.source,
        module: e.module,
        function: e.function,
        file: e.file,
        line: e.line,
        topic: e.topic,
        message: e.message,
        user_id: e.user_id,
        session_id: e.session_id,
        trace_id: e.trace_id,
        attributes: e.attributes.into_iter().map(|a| wit::Attribute { key: a.key, value: a.value }).collect(),
        raw: e.raw,
        pattern: e.pattern.map(|p| wit::PatternRef { id: p.id.to_string(), template: p.template.to_string() }),
        insight: e.insight,
    }
}

pub fn from_wit(e: wit::Event) -> Event {
    Event {
        id: e.id,
        timestamp_ns: e.timestamp_ns,
        received_ns: e.received_ns,
        input: e.input,
        level: e.level,
        source: e.source,
        module: e.module,
        function: e.function,
        file: e.file,
        line: e.line,
        topic: e.topic,
        message: e.message,
        user_id: e.user_id,
        session_id: e.session_id,
        trace_id: e.trace_id,
        attributes: attributes(e.attributes),
        raw: e.raw,
        pattern: e.pattern.map(pattern),
        insight: e.insight,
    }
}

pub fn annotation(a: wit::Annotation) -> Annotation {
    Annotation {
        level: a.level,
        pattern: a.pattern.map(pattern),
        insight: a.insight,
        attributes: attributes(a.attributes),
    }
}

fn attributes(list: Vec<wit::Attribute>) -> Vec<Attribute> {
    list.into_iter().map(|a| Attribute { key: a.key, value: a.value }).collect()
}

fn pattern(p: wit::PatternRef) -> PatternRef {
    PatternRef { id: p.id.into(), template: p.template.into() }
}
