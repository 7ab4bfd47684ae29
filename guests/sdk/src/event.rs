//! Constructors for the records guests build most often.
//!
//! The records have no `Default` (their fields are all public and required), and
//! spelling out every field in each guest is noise. These helpers name the intent instead.

use crate::json::to_json_string;
use crate::{Annotation, Attribute, Event, Outcome, PatternRef};

/// An event with every field empty: no id, time zero, no message.
///
/// Meant for tests and for guests that create events from scratch; a guest that transforms an
/// event should modify the one it received, so the host-assigned fields survive.
pub fn blank_event() -> Event {
    Event {
        id: String::new(),
        timestamp_ns: 0,
        received_ns: 0,
        input: String::new(),
        level: String::new(),
        source: None,
        module: None,
        function: None,
        file: None,
        line: None,
        topic: None,
        message: String::new(),
        user_id: None,
        session_id: None,
        trace_id: None,
        attributes: Vec::new(),
        raw: None,
        pattern: None,
        insight: None,
    }
}

/// An attribute whose value is the text `value`, encoded as a JSON string.
pub fn string_attribute(key: impl Into<String>, value: &str) -> Attribute {
    Attribute { key: key.into(), value: to_json_string(value) }
}

/// The outcome that sets only the event's pattern.
pub fn annotate_pattern(id: impl Into<String>, template: impl Into<String>) -> Outcome {
    Outcome::Annotate(Annotation {
        level: None,
        pattern: Some(PatternRef { id: id.into(), template: template.into() }),
        insight: None,
        attributes: Vec::new(),
    })
}

/// The outcome that sends the event to the dead-letter store with `reason`.
pub fn fail(reason: impl Into<String>) -> Outcome {
    Outcome::Fail(reason.into())
}

#[cfg(test)]
mod tests {
    use super::{annotate_pattern, string_attribute};
    use crate::Outcome;

    #[test]
    fn helpers_fill_what_they_say() {
        assert_eq!(string_attribute("k", "v\"").value, r#""v\"""#);
        match annotate_pattern("00ff", "a <*>") {
            Outcome::Annotate(a) => {
                assert_eq!(a.pattern.map(|p| p.template), Some("a <*>".to_owned()));
                assert!(a.attributes.is_empty() && a.insight.is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
