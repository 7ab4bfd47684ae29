//! An event as the host stores and streams it, as JSON: what test field paths address and what
//! failure reports print.
//!
//! The shape is the live tail's: level and message as stored (`INFO` when no stage set a level,
//! the raw record when no stage parsed it), times as RFC 3339, attributes and insight as objects.
//! This module only reads events; it never decides whether a value is right.

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::testcase::FieldPath;
use crate::event::{Event, PatternRef, format_ns};

/// The stored form of an event, fields in the store's order; unset fields are left out.
#[derive(Debug, Serialize)]
pub struct Stored<'a> {
    id: &'a str,
    timestamp: String,
    level: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    /// Spliced in as written, so attributes keep their order.
    attributes: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<&'a PatternRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    insight: Option<Value>,
    input: &'a str,
}

impl<'a> Stored<'a> {
    pub fn of(event: &'a Event) -> Stored<'a> {
        Stored {
            id: &event.id,
            timestamp: format_ns(event.timestamp_ns),
            level: event.stored_level(),
            source: event.source.as_deref(),
            module: event.module.as_deref(),
            function: event.function.as_deref(),
            file: event.file.as_deref(),
            line: event.line,
            topic: event.topic.as_deref(),
            message: event.stored_message(),
            user_id: event.user_id.as_deref(),
            session_id: event.session_id.as_deref(),
            trace_id: event.trace_id.as_deref(),
            // `attributes_json` is a valid object by construction (invalid values become strings).
            attributes: RawValue::from_string(event.attributes_json()).unwrap_or_default(),
            pattern: event.pattern.as_ref(),
            insight: event.insight.as_deref().map(json_or_text),
            input: &event.input,
        }
    }

    /// As pretty JSON, for reports.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("(cannot show the event: {e})"))
    }
}

/// The stored form of `event` as a JSON value, for resolving paths.
pub fn stored(event: &Event) -> Value {
    serde_json::to_value(Stored::of(event)).unwrap_or(Value::Null)
}

/// The value at `path` in a stored event, `None` when the field is absent (unset or null).
pub fn resolve<'a>(stored: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    let value = match path {
        FieldPath::Top(name) => stored.get(name),
        FieldPath::Attributes => stored.get("attributes"),
        FieldPath::Attribute(key) => stored.get("attributes").and_then(|a| a.get(key)),
        FieldPath::Pattern(member) => stored.get("pattern").and_then(|p| p.get(member)),
        FieldPath::Insight => stored.get("insight"),
        FieldPath::InsightMember(key) => stored.get("insight").and_then(|i| i.get(key)),
    };
    value.filter(|v| !v.is_null())
}

/// Insight is a JSON object text; anything else is shown as the text it is.
fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::Attribute;

    fn event() -> Event {
        let mut e = Event::received("e1".into(), 1_700_000_000_000_000_000, "http".into(), "raw line".into());
        e.attributes = vec![
            Attribute { key: "port".into(), value: "8080".into() },
            Attribute { key: "a.b".into(), value: "\"dotted\"".into() },
            Attribute { key: "bad".into(), value: "not json".into() },
        ];
        e.pattern = Some(PatternRef { id: "p1".into(), template: "raw <*>".into() });
        e.insight = Some(r#"{"score": 0.5}"#.into());
        e
    }

    #[test]
    fn stored_shape_uses_stored_level_and_message() {
        let view = stored(&event());
        assert_eq!(view["level"], "INFO");
        assert_eq!(view["message"], "raw line");
        assert_eq!(view["timestamp"], "2023-11-14T22:13:20.000Z");
        assert_eq!(view["attributes"], json!({"port": 8080, "a.b": "dotted", "bad": "not json"}));
        assert_eq!(view.get("source"), None, "unset fields are left out");
        let pretty = Stored::of(&event()).pretty();
        assert!(pretty.starts_with("{\n  \"id\": \"e1\",\n  \"timestamp\""), "{pretty}");
        assert!(pretty.contains(r#""attributes": {"port":8080,"a.b":"dotted","bad":"not json"}"#), "{pretty}");
    }

    #[test]
    fn paths_resolve() {
        let view = stored(&event());
        let at = |p: &str| resolve(&view, &FieldPath::parse(p).unwrap_or_else(|e| panic!("{e}"))).cloned();
        assert_eq!(at("attributes.port"), Some(json!(8080)));
        assert_eq!(at("attributes.a.b"), Some(json!("dotted")));
        assert_eq!(at("attributes.missing"), None);
        assert_eq!(at("pattern.template"), Some(json!("raw <*>")));
        assert_eq!(at("insight.score"), Some(json!(0.5)));
        assert_eq!(at("source"), None, "an unset field is absent");
        assert_eq!(at("input"), Some(json!("http")));
        let mut bare = Event::received("e2".into(), 1, "http".into(), "x".into());
        bare.message = "parsed".into();
        let view = stored(&bare);
        assert_eq!(resolve(&view, &FieldPath::Pattern("id")), None);
        assert_eq!(resolve(&view, &FieldPath::InsightMember("k".into())), None);
        assert_eq!(resolve(&view, &FieldPath::Top("message")), Some(&json!("parsed")));
    }
}
