//! The alert a rule raises: the body of an `alert` signal.

use serde::Serialize;

use crate::fnv::Fnv;

/// Most event ids an alert carries.
pub const MAX_EVENT_IDS: usize = 10;

/// One alert, serialised as the signal body (a JSON object; optional fields are omitted when
/// unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// 16 hex digits, a hash of rule, key and `fired_ns`: the same alert always has the same id,
    /// so a replay or a retried batch does not notify twice.
    pub id: String,
    pub rule: String,
    /// `threshold`, `rate_change`, `new_pattern`, `volume_spike` or `absence`.
    pub kind: &'static str,
    /// `info`, `warning`, `error` or `critical`.
    pub severity: &'static str,
    /// One line for a notification's subject.
    pub title: String,
    /// The figures behind the alert, in words.
    pub message: String,
    /// The group the alert is about (source, pattern id), `""` for a rule without groups.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_id: Option<String>,
    /// The pattern's template, when the alert is about one pattern and an event carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// What was observed: events in the window, or the silence in ns (absence).
    pub value: f64,
    /// What `value` was compared with.
    pub threshold: f64,
    /// The window the value was observed in (absence: `for`; new_pattern: 0).
    pub window_ns: i64,
    /// The pipeline time the alert fired at.
    pub fired_ns: i64,
    /// Up to ten ids of the events that triggered it, in arrival order (none for absence).
    pub event_ids: Vec<String>,
    /// Triggers suppressed by dedup and cooldown since the previous alert.
    pub suppressed: u64,
}

/// The id of the alert of `rule` and `key` fired at `fired_ns`.
pub fn alert_id(rule: &str, key: &str, fired_ns: i64) -> String {
    let hash = Fnv::new().field(rule.as_bytes()).field(key.as_bytes()).write(&fired_ns.to_le_bytes()).finish();
    format!("{hash:016x}")
}

impl Alert {
    /// The signal body.
    pub fn to_json(&self) -> String {
        // Strings, numbers and lists in memory: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::alert_id;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        assert_eq!(alert_id("r", "k", 5), alert_id("r", "k", 5));
        assert_ne!(alert_id("r", "k", 5), alert_id("r", "k", 6));
        assert_ne!(alert_id("r", "k", 5), alert_id("r", "", 5));
        assert_eq!(alert_id("r", "k", 5).len(), 16);
    }
}

/// What a rule found for one key, before dedup and cooldown decide whether it alerts.
#[derive(Debug, Clone)]
pub struct Finding {
    pub key: String,
    pub value: f64,
    pub threshold: f64,
    pub window_ns: i64,
    pub title: String,
    pub message: String,
    pub source: Option<String>,
    pub pattern_id: Option<String>,
    pub template: Option<String>,
    pub event_ids: Vec<String>,
}

impl Finding {
    /// The alert of `rule` for this finding, fired at `fired_ns`.
    pub fn into_alert(self, rule: &crate::config::Rule, fired_ns: i64, suppressed: u64) -> Alert {
        Alert {
            id: alert_id(&rule.name, &self.key, fired_ns),
            rule: rule.name.clone(),
            kind: rule.check.kind().as_str(),
            severity: rule.severity.as_str(),
            title: self.title,
            message: self.message,
            key: self.key,
            source: self.source,
            pattern_id: self.pattern_id,
            template: self.template,
            value: self.value,
            threshold: self.threshold,
            window_ns: self.window_ns,
            fired_ns,
            event_ids: self.event_ids,
            suppressed,
        }
    }
}
