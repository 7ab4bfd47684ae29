//! What the stage keeps per pattern, and how it is stored.
//!
//! Each pattern is one key of the host store, `p/<id>`, rewritten after each call that changed
//! it. The value is a JSON object with short keys (compact, yet readable when inspecting the
//! store):
//!
//! | key | meaning |
//! | --- | --- |
//! | `v` | format version, 1 |
//! | `t`, `lv`, `s` | template, level and source of the pattern's first event |
//! | `x` | up to three sample messages of its first batch (for prompts and cues) |
//! | `a` | activity: `c` count, `f`/`l` first and last seen (pipeline clock), `b` minute buckets |
//! | `m` | the model request's state (see [`Model`]) |
//! | `i` | the insight currently attached, as JSON text |
//! | `r`, `u` | whether that insight said rare, bursting |
//! | `e` | minute the insight was last changed for a rarity or burst change (rate limit) |

use serde::{Deserialize, Serialize};

use crate::activity::Activity;
use crate::insight::ModelAnswer;

/// Prefix of every pattern key.
pub const PREFIX: &str = "p/";

/// Format version of the stored record.
const VERSION: u32 = 1;

/// The store key of pattern `id`.
pub fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// Where a pattern's model request stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Not asked, and not to be under the current settings; the reason, for `fallback_reason`.
    Off(String),
    /// To be asked at or after `at_ns` (pipeline clock); `reason`: why it has not gone out yet.
    Wanted { at_ns: i64, reason: String },
    /// Asked; the answer is looked up on every call.
    Pending,
    /// Answered and valid: the pattern's insight is the model's.
    Answered(ModelAnswer),
    /// Answered with a failure or an invalid answer; the full `fallback_reason`. Not asked again.
    Failed(String),
}

impl Model {
    /// Why the insight is offline, or `None` when it is the model's.
    pub fn fallback_reason(&self) -> Option<&str> {
        match self {
            Self::Off(reason) | Self::Wanted { reason, .. } | Self::Failed(reason) => Some(reason),
            Self::Pending => Some("model answer pending"),
            Self::Answered(_) => None,
        }
    }
}

/// One tracked pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    #[serde(rename = "v")]
    version: u32,
    #[serde(rename = "t")]
    pub template: String,
    #[serde(rename = "lv")]
    pub level: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
    #[serde(rename = "a")]
    pub activity: Activity,
    #[serde(rename = "m")]
    pub model: Model,
    #[serde(rename = "i")]
    pub insight: String,
    #[serde(rename = "r", default)]
    pub shown_rare: bool,
    #[serde(rename = "u", default)]
    pub shown_burst: bool,
    #[serde(rename = "e", default)]
    pub flags_changed_minute: Option<i64>,
    /// Events of this pattern in the current call (not stored).
    #[serde(skip)]
    pub in_call: u64,
    /// Whether the pattern must be written after this call (not stored).
    #[serde(skip)]
    pub dirty: bool,
    /// Whether an `Insight` signal for the current insight is still to be emitted (not stored).
    #[serde(skip)]
    pub signal_due: bool,
}

impl Pattern {
    /// A pattern first seen at `now_ns`, with no insight yet.
    pub fn new(template: String, level: String, source: Option<String>, now_ns: i64) -> Self {
        Self {
            version: VERSION,
            template,
            level,
            source,
            samples: Vec::new(),
            activity: Activity::new(now_ns),
            model: Model::Wanted { at_ns: now_ns, reason: "model request not sent yet".into() },
            insight: String::new(),
            shown_rare: false,
            shown_burst: false,
            flags_changed_minute: None,
            in_call: 0,
            dirty: false,
            signal_due: false,
        }
    }

    /// The record for the store.
    pub fn encode(&self) -> Vec<u8> {
        // Strings, integers and booleans always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored record; the error says what is wrong, for the log.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let pattern: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if pattern.version != VERSION {
            return Err(format!("unknown format version {}", pattern.version));
        }
        Ok(pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::{Model, Pattern, key};
    use crate::insight::ModelAnswer;
    use crate::level::Severity;

    #[test]
    fn round_trip() {
        let mut p = Pattern::new("a <*>".into(), "ERROR".into(), Some("svc".into()), 7);
        p.activity.record(7);
        p.samples.push("a 1".into());
        p.insight = r#"{"source":"model"}"#.into();
        p.model = Model::Answered(ModelAnswer {
            summary: "s".into(),
            cause: None,
            severity: Severity::Error,
            action: "a".into(),
        });
        p.in_call = 3;
        let back = Pattern::decode(&p.encode()).unwrap();
        assert_eq!(back.in_call, 0, "transient fields are not stored");
        assert_eq!(
            (back.template, back.model, back.insight, back.activity),
            (p.template, p.model, p.insight, p.activity)
        );
        assert!(Pattern::decode(b"{}").is_err());
        assert!(Pattern::decode(br#"{"v":2}"#).is_err());
        assert_eq!(key("00ff"), "p/00ff");
    }
}
