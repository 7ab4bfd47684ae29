//! Which events a rule looks at.
//!
//! Every condition is optional and all present ones must hold. Events reach this stage after
//! `normalize` and `mine`, so levels are canonical and patterns are set; an event without a level
//! or pattern simply does not match a filter that asks for one.

use serde::Deserialize;

use sluice_guest::Event;

/// The canonical levels, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    /// The level of an event's canonical `level` field; `None` for an empty or unknown one.
    pub fn of_event(text: &str) -> Option<Self> {
        match text {
            "DEBUG" => Some(Self::Debug),
            "INFO" => Some(Self::Info),
            "WARNING" => Some(Self::Warning),
            "ERROR" => Some(Self::Error),
            "CRITICAL" => Some(Self::Critical),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    /// A canonical level name, in any case.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::of_event(&text.to_ascii_uppercase()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown level `{text}` (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)"
            ))
        })
    }
}

/// The `filter` of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Minimum level: `ERROR` matches ERROR and CRITICAL.
    pub level: Option<Level>,
    /// The event's `source` equals this.
    pub source: Option<String>,
    /// The event's pattern id equals this.
    pub pattern: Option<String>,
    /// The event's `message` contains this text (case-sensitive).
    pub message_contains: Option<String>,
    /// The event's `topic` equals this.
    pub topic: Option<String>,
}

impl Filter {
    /// Whether `event` passes every condition. Cheap conditions are checked first.
    pub fn matches(&self, event: &Event) -> bool {
        if let Some(min) = self.level
            && Level::of_event(&event.level).is_none_or(|level| level < min)
        {
            return false;
        }
        if let Some(source) = &self.source
            && event.source.as_deref() != Some(source.as_str())
        {
            return false;
        }
        if let Some(topic) = &self.topic
            && event.topic.as_deref() != Some(topic.as_str())
        {
            return false;
        }
        if let Some(pattern) = &self.pattern
            && event.pattern.as_ref().map(|p| p.id.as_str()) != Some(pattern.as_str())
        {
            return false;
        }
        if let Some(needle) = &self.message_contains
            && !event.message.contains(needle.as_str())
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use sluice_guest::{PatternRef, blank_event};

    use super::{Filter, Level};

    #[test]
    fn every_present_condition_must_hold() {
        let mut event = blank_event();
        event.level = "CRITICAL".into();
        event.source = Some("payments".into());
        event.topic = Some("logs.app".into());
        event.message = "card declined: insufficient funds".into();
        event.pattern = Some(PatternRef { id: "00aa".into(), template: "card declined: <*>".into() });

        assert!(Filter::default().matches(&event));
        let full = Filter {
            level: Some(Level::Error),
            source: Some("payments".into()),
            pattern: Some("00aa".into()),
            message_contains: Some("declined".into()),
            topic: Some("logs.app".into()),
        };
        assert!(full.matches(&event));
        assert!(!Filter { level: Some(Level::Critical), ..full.clone() }.matches(&blank_event()));
        assert!(!Filter { source: Some("pay".into()), ..full.clone() }.matches(&event));
        assert!(!Filter { pattern: Some("00ab".into()), ..full.clone() }.matches(&event));
        assert!(!Filter { message_contains: Some("Declined".into()), ..full.clone() }.matches(&event));
        assert!(!Filter { topic: Some("logs".into()), ..full.clone() }.matches(&event));
        event.level = "WARNING".into();
        assert!(!full.matches(&event), "level is a minimum");
    }

    #[test]
    fn levels_parse_in_any_case() {
        let filter: Filter = serde_json::from_str(r#"{"level": "warning"}"#).unwrap();
        assert_eq!(filter.level, Some(Level::Warning));
        assert!(serde_json::from_str::<Filter>(r#"{"level": "WARN"}"#).is_err());
        assert!(serde_json::from_str::<Filter>(r#"{"sorce": "x"}"#).is_err());
    }
}
