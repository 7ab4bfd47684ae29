//! The host's event model: what inputs produce, stages transform and outputs store.
//!
//! It mirrors the WIT `event` record but is owned by the host, so the contract can gain versions
//! without the rest of the runtime changing; `wasm::convert` moves fields across (no copies).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One log event as it travels through the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id assigned at ingest (UUIDv7: unique and time-ordered); outputs write idempotently on it.
    pub id: String,
    /// When the event happened, nanoseconds since the Unix epoch (UTC).
    pub timestamp_ns: i64,
    /// When the host received it, nanoseconds since the Unix epoch (UTC).
    pub received_ns: i64,
    /// The input that received it.
    pub input: String,
    /// Canonical level (DEBUG, INFO, WARNING, ERROR, CRITICAL) or empty before normalization.
    pub level: String,
    pub source: Option<String>,
    pub module: Option<String>,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub topic: Option<String>,
    pub message: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    /// Open attributes: key and JSON-encoded value.
    pub attributes: Vec<Attribute>,
    /// The record as received, until a stage parses it.
    pub raw: Option<String>,
    pub pattern: Option<PatternRef>,
    /// JSON object text added by an enrichment stage.
    pub insight: Option<String>,
}

/// One open attribute; `value` is JSON text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

/// The pattern (template) an event belongs to.
///
/// Shared rather than owned: a mining stage gives many events of a batch the same pattern, and
/// the host then holds one copy of its id and template for all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternRef {
    pub id: Arc<str>,
    pub template: Arc<str>,
}

/// Changes a stage asks the host to apply to an event it keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Annotation {
    pub level: Option<String>,
    pub pattern: Option<PatternRef>,
    pub insight: Option<String>,
    pub attributes: Vec<Attribute>,
}

impl Event {
    /// A fresh event for a record as received: everything but the ids and times is left for a
    /// parsing stage to fill in. Without such a stage the record becomes the message.
    pub fn received(id: String, received_ns: i64, input: String, raw: String) -> Self {
        Event { id, timestamp_ns: received_ns, received_ns, input, raw: Some(raw), ..Event::default() }
    }

    /// Applies a stage's annotation in place.
    pub fn annotate(&mut self, annotation: Annotation) {
        if let Some(level) = annotation.level {
            self.level = level;
        }
        if annotation.pattern.is_some() {
            self.pattern = annotation.pattern;
        }
        if annotation.insight.is_some() {
            self.insight = annotation.insight;
        }
        for attribute in annotation.attributes {
            match self.attributes.iter_mut().find(|a| a.key == attribute.key) {
                Some(existing) => existing.value = attribute.value,
                None => self.attributes.push(attribute),
            }
        }
    }

    /// The message to store: a record no stage parsed is stored as received.
    pub fn stored_message(&self) -> &str {
        match (&self.raw, self.message.is_empty()) {
            (Some(raw), true) => raw,
            _ => &self.message,
        }
    }

    /// The level to store: `INFO` when no stage set one.
    pub fn stored_level(&self) -> &str {
        if self.level.is_empty() { "INFO" } else { &self.level }
    }

    /// Attributes as one JSON object text (`{}` when there are none). Values are JSON already, so
    /// they are spliced in rather than re-parsed; a value that is not valid JSON is kept as a string.
    pub fn attributes_json(&self) -> String {
        let mut out = String::with_capacity(2 + self.attributes.len() * 24);
        out.push('{');
        for (i, a) in self.attributes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(&mut out, &a.key);
            out.push(':');
            if serde_json::from_str::<serde::de::IgnoredAny>(&a.value).is_ok() {
                out.push_str(&a.value);
            } else {
                push_json_string(&mut out, &a.value);
            }
        }
        out.push('}');
        out
    }
}

/// An event that could not be processed, with why and where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub event: Event,
    /// The stage that gave up on it.
    pub stage: String,
    /// The guest's name and version (content hash prefix).
    pub guest: String,
    pub guest_version: String,
    /// Precise reason: the guest's own message, or the trap and its cause.
    pub reason: String,
    pub failed_ns: i64,
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Appends `s` as a JSON string. Keys and values that need no escaping (nearly all) are copied as
/// they are; the rest go through serde_json's escaping.
fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::String(s.to_string()).to_string());
    }
}

/// RFC 3339 UTC with milliseconds, the form the stores keep (it sorts as text). Written without
/// a format string: this runs twice for every stored event.
pub fn format_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotate_replaces_and_adds() {
        let mut e = Event::received("a".into(), 1, "http".into(), "x".into());
        e.attributes.push(Attribute { key: "k".into(), value: "1".into() });
        e.annotate(Annotation {
            level: Some("ERROR".into()),
            pattern: Some(PatternRef { id: "p".into(), template: "t".into() }),
            insight: None,
            attributes: vec![
                Attribute { key: "k".into(), value: "2".into() },
                Attribute { key: "n".into(), value: "\"v\"".into() },
            ],
        });
        assert_eq!(e.pattern.as_ref().map(|p| &*p.id), Some("p"));
        assert_eq!(e.level, "ERROR");
        assert_eq!(e.attributes_json(), r#"{"k":2,"n":"v"}"#);
    }

    #[test]
    fn unparsed_record_is_stored_as_message() {
        let e = Event::received("a".into(), 1, "http".into(), "plain line".into());
        assert_eq!(e.stored_message(), "plain line");
        assert_eq!(e.stored_level(), "INFO");
        assert_eq!(format_ns(1_700_000_000_123_000_000), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_ns(1_700_000_000_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(format_ns(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn invalid_attribute_json_is_quoted() {
        let mut e = Event::default();
        e.attributes.push(Attribute { key: "q\"k".into(), value: "not json".into() });
        assert_eq!(e.attributes_json(), r#"{"q\"k":"not json"}"#);
        e.attributes.push(Attribute { key: "tab\there".into(), value: "\u{1}".into() });
        assert_eq!(e.attributes_json(), r#"{"q\"k":"not json","tab\there":"\u0001"}"#);
    }
}

/// What a signal reports (the WIT `signal.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A rule fired: the body is the alert.
    Alert,
    /// A pattern's template changed or other patterns were merged into it.
    PatternChanged,
    /// An insight is now attached to a pattern.
    Insight,
}

impl SignalKind {
    /// The live-stream topic and the name used in the API.
    pub fn topic(self) -> &'static str {
        match self {
            SignalKind::Alert => "alerts",
            SignalKind::PatternChanged => "patterns",
            SignalKind::Insight => "insights",
        }
    }
}

/// Something a stage reported besides its outcomes, made durable with the batch it came with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signal {
    /// The stage that emitted it.
    pub stage: String,
    pub kind: SignalKind,
    /// A JSON object; its shape depends on the kind.
    pub body: serde_json::Map<String, serde_json::Value>,
    /// When the host received it (nanoseconds since the Unix epoch).
    pub emitted_ns: i64,
}
