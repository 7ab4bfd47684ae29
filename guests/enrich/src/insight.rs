//! The insight attached to a pattern's events, and the validation of a model's answer.
//!
//! An insight is a JSON object (the event's `insight` field and the body of `Insight` signals):
//!
//! | key | type | meaning |
//! | --- | --- | --- |
//! | `source` | `"model"` or `"offline"` | who wrote `summary`, `cause`, `severity`, `action` |
//! | `summary` | text | one sentence on what the pattern is |
//! | `cause` | text or null | likely cause (offline: the leading cue's guess, or null) |
//! | `severity` | `info`, `warning`, `error`, `critical` | how serious it is |
//! | `action` | text | a suggested first action |
//! | `novel` | bool | the pattern was first seen less than an hour before the insight was set |
//! | `rarity` | number | the pattern's share (0–1) of all events this stage had seen then |
//! | `rare` | bool | that share was below `rare_fraction` (after `rare_min_total` events) |
//! | `burst` | bool | its rate in the current minute exceeded `burst_factor` × its average |
//! | `cues` | list of text | message cues found in the template and samples (see `cues.rs`) |
//! | `fallback_reason` | text, offline only | why this is not (yet) a model answer |
//!
//! `novel`, `rarity`, `rare`, `burst` and `cues` are computed by this stage for both sources.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::level::Severity;

/// Longest model-written text kept per field, in bytes; longer text is cut at a char boundary.
const MAX_FIELD_BYTES: usize = 1000;

/// The four fields a model answers, once validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAnswer {
    pub summary: String,
    pub cause: Option<String>,
    pub severity: Severity,
    pub action: String,
}

/// An insight, ready to be written as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insight<'a> {
    pub source: &'static str,
    pub summary: &'a str,
    pub cause: Option<&'a str>,
    pub severity: Severity,
    pub action: &'a str,
    pub novel: bool,
    pub rarity: f64,
    pub rare: bool,
    pub burst: bool,
    pub cues: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<&'a str>,
}

impl Insight<'_> {
    /// The insight as JSON object text.
    pub fn to_json(&self) -> String {
        // Strings, numbers and booleans always serialise (a non-finite share is never built).
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Checks a model's answer (JSON object text) and keeps its four fields. The error says what is
/// wrong, for the insight's `fallback_reason`.
pub fn validate(text: &str) -> Result<ModelAnswer, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(object) = value else {
        return Err("not a JSON object".into());
    };
    let text_field = |key: &str| -> Result<String, String> {
        match object.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(bounded(s.trim())),
            Some(Value::String(_)) => Err(format!("`{key}` is empty")),
            Some(_) => Err(format!("`{key}` is not text")),
            None => Err(format!("`{key}` is missing")),
        }
    };
    let summary = text_field("summary")?;
    let action = text_field("action")?;
    let cause = match object.get("cause") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(bounded(s.trim())),
        Some(_) => return Err("`cause` is not text".into()),
    };
    let severity = match object.get("severity") {
        Some(Value::String(s)) => {
            Severity::parse(s).ok_or_else(|| format!("`severity` {s:?} is not info, warning, error or critical"))?
        }
        Some(_) => return Err("`severity` is not text".into()),
        None => return Err("`severity` is missing".into()),
    };
    Ok(ModelAnswer { summary, cause, severity, action })
}

/// `s` cut to at most [`MAX_FIELD_BYTES`], at a char boundary.
fn bounded(s: &str) -> String {
    truncate(s, MAX_FIELD_BYTES).to_owned()
}

/// The longest prefix of `s` of at most `max` bytes that ends at a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let end = (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{truncate, validate};
    use crate::level::Severity;

    #[test]
    fn valid_answers() {
        let a = validate(r#"{"summary":" Card declined ","cause":null,"severity":"Warning","action":"Check","x":1}"#);
        let a = a.unwrap();
        assert_eq!((a.summary.as_str(), a.cause, a.severity), ("Card declined", None, Severity::Warning));
        let long = format!(r#"{{"summary":"{}","cause":"c","severity":"error","action":"a"}}"#, "é".repeat(900));
        let a = validate(&long).unwrap();
        assert!(a.summary.len() <= 1000 && a.summary.chars().all(|c| c == 'é'));
    }

    #[test]
    fn invalid_answers_say_why() {
        for (text, why) in [
            ("nope", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"cause":null,"severity":"error","action":"a"}"#, "`summary` is missing"),
            (r#"{"summary":"","severity":"error","action":"a"}"#, "`summary` is empty"),
            (r#"{"summary":"s","severity":"bad","action":"a"}"#, "`severity` \"bad\""),
            (r#"{"summary":"s","severity":"error","action":3}"#, "`action` is not text"),
            (r#"{"summary":"s","cause":[],"severity":"error","action":"a"}"#, "`cause` is not text"),
        ] {
            let err = validate(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert_eq!(truncate("aé", 2), "a");
    }
}
