//! The stage's configuration: a list of rules, as written in the pipeline file.
//!
//! Parsing happens in two steps so every error names its rule: each rule object is read on its
//! own (unknown keys refused), then checked against its kind, which says which keys it needs and
//! which it does not take.

use serde::Deserialize;
use serde_json::Value;

use crate::duration::Span;
use crate::filter::Filter;
use crate::fnv::Fnv;

/// Most rules a stage takes; each costs a pass over every batch.
const MAX_RULES: usize = 256;
/// Longest rule name: it is part of every store key of the rule.
const MAX_NAME: usize = 64;
/// Shortest window: the window is cut in [`crate::series::SLOTS`] slots, which must stay coarser
/// than the host's batching.
const MIN_WINDOW_NS: i64 = 1_000_000_000;
/// Most windows a baseline may span: bounds the counters kept per key.
const MAX_BASELINE_WINDOWS: i64 = 500;
/// Most keys (groups, patterns) one rule tracks.
const MAX_KEYS_LIMIT: usize = 100_000;

/// The `config` object of an `alert` stage.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: Vec<Rule>,
}

/// What a rule watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Threshold,
    RateChange,
    NewPattern,
    VolumeSpike,
    Absence,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Threshold => "threshold",
            Self::RateChange => "rate_change",
            Self::NewPattern => "new_pattern",
            Self::VolumeSpike => "volume_spike",
            Self::Absence => "absence",
        }
    }

    /// The kind-specific keys this kind requires, and those it merely allows.
    const fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Self::Threshold => (&["window", "above"], &["group_by", "max_keys"]),
            Self::RateChange => (&["window", "baseline", "factor"], &["min_events", "group_by", "max_keys"]),
            Self::NewPattern => (&[], &["max_keys"]),
            Self::VolumeSpike => (&["window", "baseline", "factor"], &["min_events", "max_keys"]),
            Self::Absence => (&["for"], &[]),
        }
    }
}

/// How an alert's severity is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// What a counting rule's alert key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One key, `""`, for the whole rule.
    #[default]
    None,
    /// The event's `source` (events without one share the key `""`).
    Source,
    /// The event's pattern id (events without one share the key `""`).
    Pattern,
}

/// One rule object exactly as written; checked by [`Rule::from_raw`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    /// Unique within the stage, `[a-z0-9_-]+`: it names the alerts and keys the rule's state.
    name: String,
    kind: Kind,
    /// Which events count; all events when absent.
    #[serde(default)]
    filter: Filter,
    /// Length of the counting window (threshold, rate_change, volume_spike).
    window: Option<Span>,
    /// Length of the comparison period just before the window (rate_change, volume_spike).
    baseline: Option<Span>,
    /// threshold: fires when the window holds more than this many events.
    above: Option<u64>,
    /// rate_change, volume_spike: fires when the window's rate is at least this many times the
    /// baseline's (> 1).
    factor: Option<f64>,
    /// rate_change, volume_spike: fewest events in the window for an alert (default 10).
    min_events: Option<u64>,
    /// threshold, rate_change: the alert key (default none).
    group_by: Option<GroupBy>,
    /// absence: silence that fires.
    #[serde(rename = "for")]
    silence: Option<Span>,
    severity: Severity,
    /// The same rule and key do not fire again within this of their last alert (default 5m).
    dedup: Option<Span>,
    /// Shortest time between two alerts of the rule, all keys together (default 0s).
    cooldown: Option<Span>,
    /// Most keys tracked at once (default 1000).
    max_keys: Option<usize>,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub check: Check,
    pub filter: Filter,
    pub severity: Severity,
    pub dedup_ns: i64,
    pub cooldown_ns: i64,
    pub max_keys: usize,
    /// Hash of the rule's definition as written: stored state of another definition is dropped.
    pub fingerprint: u64,
}

/// The kind of a rule, with the figures it compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    Threshold { window_ns: i64, above: u64, group_by: GroupBy },
    RateChange { window_ns: i64, baseline_ns: i64, factor: f64, min_events: u64, group_by: GroupBy },
    NewPattern,
    VolumeSpike { window_ns: i64, baseline_ns: i64, factor: f64, min_events: u64 },
    Absence { for_ns: i64 },
}

impl Check {
    pub const fn kind(&self) -> Kind {
        match self {
            Self::Threshold { .. } => Kind::Threshold,
            Self::RateChange { .. } => Kind::RateChange,
            Self::NewPattern => Kind::NewPattern,
            Self::VolumeSpike { .. } => Kind::VolumeSpike,
            Self::Absence { .. } => Kind::Absence,
        }
    }
}

fn default_dedup() -> Span {
    Span(5 * 60 * 1_000_000_000)
}

fn default_min_events() -> u64 {
    10
}

fn default_max_keys() -> usize {
    1000
}

/// The top-level object: `rules` only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    rules: Vec<Value>,
}

impl Settings {
    /// Parses and validates the config JSON text; the error is meant for the user.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let fail = |e: String| format!("invalid alert config: {e}");
        let raw: RawSettings = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
        if raw.rules.is_empty() {
            return Err(fail("`rules` is empty: an alert stage needs at least one rule".into()));
        }
        if raw.rules.len() > MAX_RULES {
            return Err(fail(format!("{} rules, at most {MAX_RULES}", raw.rules.len())));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
        for (i, value) in raw.rules.into_iter().enumerate() {
            let label = match value.get("name").and_then(Value::as_str) {
                Some(name) => format!("rule `{name}`"),
                None => format!("rule #{}", i + 1),
            };
            let rule = Rule::from_value(value).map_err(|e| fail(format!("{label}: {e}")))?;
            if rules.iter().any(|r| r.name == rule.name) {
                return Err(fail(format!("{label}: the name is used by another rule")));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }
}

impl Rule {
    fn from_value(value: Value) -> Result<Self, String> {
        // serde_json's maps are sorted, so this text is canonical: the same definition always
        // gives the same fingerprint, whatever the key order in the pipeline file.
        let fingerprint = Fnv::new().write(value.to_string().as_bytes()).finish();
        let present: Vec<String> = value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        let raw: RawRule = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Self::from_raw(raw, &present, fingerprint)
    }

    fn from_raw(raw: RawRule, present: &[String], fingerprint: u64) -> Result<Self, String> {
        let valid_name = !raw.name.is_empty()
            && raw.name.len() <= MAX_NAME
            && raw.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(format!("`name` must be 1 to {MAX_NAME} characters of a-z, 0-9, `_` and `-`"));
        }
        let kind = raw.kind;
        let (required, allowed) = kind.keys();
        const COMMON: [&str; 6] = ["name", "kind", "filter", "severity", "dedup", "cooldown"];
        for key in present {
            let key = key.as_str();
            if !COMMON.contains(&key) && !required.contains(&key) && !allowed.contains(&key) {
                return Err(format!("`{key}` does not apply to kind {}", kind.as_str()));
            }
        }
        if let Some(missing) = required.iter().find(|k| !present.iter().any(|p| p == *k)) {
            return Err(format!("`{missing}` is required for kind {}", kind.as_str()));
        }

        let window_ns = raw.window.map(|w| w.0).unwrap_or_default();
        if raw.window.is_some() && window_ns < MIN_WINDOW_NS {
            return Err("`window` must be at least 1s".into());
        }
        let baseline_ns = raw.baseline.map(|b| b.0).unwrap_or_default();
        if raw.baseline.is_some() {
            if baseline_ns < window_ns {
                return Err("`baseline` must be at least as long as `window`".into());
            }
            if baseline_ns / window_ns > MAX_BASELINE_WINDOWS {
                return Err(format!("`baseline` may span at most {MAX_BASELINE_WINDOWS} windows"));
            }
        }
        let factor = raw.factor.unwrap_or_default();
        if raw.factor.is_some() && !(factor > 1.0 && factor.is_finite()) {
            return Err(format!("`factor` must be a number greater than 1, not {factor}"));
        }
        let min_events = raw.min_events.unwrap_or_else(default_min_events);
        if min_events == 0 {
            return Err("`min_events` must be at least 1".into());
        }
        let max_keys = raw.max_keys.unwrap_or_else(default_max_keys);
        if !(1..=MAX_KEYS_LIMIT).contains(&max_keys) {
            return Err(format!("`max_keys` must be between 1 and {MAX_KEYS_LIMIT}"));
        }
        let group_by = raw.group_by.unwrap_or_default();
        let check = match kind {
            Kind::Threshold => Check::Threshold { window_ns, above: raw.above.unwrap_or_default(), group_by },
            Kind::RateChange => Check::RateChange { window_ns, baseline_ns, factor, min_events, group_by },
            Kind::NewPattern => Check::NewPattern,
            Kind::VolumeSpike => Check::VolumeSpike { window_ns, baseline_ns, factor, min_events },
            Kind::Absence => {
                let for_ns = raw.silence.map(|s| s.0).unwrap_or_default();
                if for_ns < MIN_WINDOW_NS {
                    return Err("`for` must be at least 1s".into());
                }
                Check::Absence { for_ns }
            }
        };
        Ok(Self {
            name: raw.name,
            check,
            filter: raw.filter,
            severity: raw.severity,
            dedup_ns: raw.dedup.unwrap_or_else(default_dedup).0,
            cooldown_ns: raw.cooldown.map(|c| c.0).unwrap_or_default(),
            max_keys,
            fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Check, GroupBy, Settings, Severity};
    use crate::filter::Level;

    const EXAMPLE: &str = r#"{"rules": [
        {"name": "payment-errors", "kind": "threshold", "filter": {"level": "ERROR", "source": "payments"},
         "window": "5m", "above": 10, "group_by": "source", "severity": "critical", "dedup": "10m", "cooldown": "0s"},
        {"name": "error-rate", "kind": "rate_change", "filter": {"level": "ERROR"}, "window": "5m",
         "baseline": "1h", "factor": 3, "min_events": 10, "severity": "error"},
        {"name": "new-patterns", "kind": "new_pattern", "filter": {"level": "WARNING"}, "severity": "info"},
        {"name": "pattern-spike", "kind": "volume_spike", "window": "1m", "baseline": "30m", "factor": 5,
         "min_events": 20, "severity": "warning"},
        {"name": "billing-silent", "kind": "absence", "filter": {"source": "billing"}, "for": "10m", "severity": "error"}
    ]}"#;

    #[test]
    fn the_documented_example_parses() {
        let settings = Settings::from_json(EXAMPLE).unwrap();
        let rules = &settings.rules;
        assert_eq!(rules.len(), 5);
        assert_eq!(
            rules[0].check,
            Check::Threshold { window_ns: 300_000_000_000, above: 10, group_by: GroupBy::Source }
        );
        assert_eq!((rules[0].severity, rules[0].dedup_ns, rules[0].cooldown_ns), (Severity::Critical, 600e9 as i64, 0));
        assert_eq!(rules[0].filter.level, Some(Level::Error));
        assert_eq!(rules[1].dedup_ns, 300_000_000_000, "default dedup");
        assert_eq!(rules[2].check, Check::NewPattern);
        assert_eq!(rules[4].check, Check::Absence { for_ns: 600_000_000_000 });
        assert_eq!(rules[3].max_keys, 1000);
    }

    #[test]
    fn fingerprint_follows_the_definition_not_the_key_order() {
        let a = Settings::from_json(r#"{"rules":[{"name":"a","kind":"absence","for":"1m","severity":"info"}]}"#);
        let b = Settings::from_json(r#"{"rules":[{"severity":"info","for":"1m","kind":"absence","name":"a"}]}"#);
        let c = Settings::from_json(r#"{"rules":[{"name":"a","kind":"absence","for":"2m","severity":"info"}]}"#);
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert_eq!(a.rules[0].fingerprint, b.rules[0].fingerprint);
        assert_ne!(a.rules[0].fingerprint, c.rules[0].fingerprint);
    }

    fn error_of(rule: &str) -> String {
        Settings::from_json(&format!(r#"{{"rules": [{rule}]}}"#)).unwrap_err()
    }

    #[test]
    fn errors_name_the_rule_and_the_key() {
        let cases = [
            (
                r#"{"name":"x","kind":"threshold","window":"5m","above":1,"severity":"info","windw":"1m"}"#,
                "rule `x`",
                "windw",
            ),
            (r#"{"name":"x","kind":"threshold","window":"5m","severity":"info"}"#, "rule `x`", "`above` is required"),
            (
                r#"{"name":"x","kind":"threshold","window":"5","above":1,"severity":"info"}"#,
                "rule `x`",
                "invalid duration `5`",
            ),
            (r#"{"name":"x","kind":"threshold","window":"500ms","above":1,"severity":"info"}"#, "rule `x`", "`window`"),
            (r#"{"name":"x","kind":"threshold","window":"5m","above":1}"#, "rule `x`", "severity"),
            (
                r#"{"name":"x","kind":"rate_change","window":"5m","baseline":"1h","factor":1,"severity":"info"}"#,
                "rule `x`",
                "`factor`",
            ),
            (
                r#"{"name":"x","kind":"rate_change","window":"5m","baseline":"1m","factor":2,"severity":"info"}"#,
                "rule `x`",
                "`baseline`",
            ),
            (
                r#"{"name":"x","kind":"volume_spike","window":"1s","baseline":"1h","factor":2,"severity":"info"}"#,
                "rule `x`",
                "500 windows",
            ),
            (
                r#"{"name":"x","kind":"volume_spike","window":"1m","baseline":"1h","factor":2,"severity":"info","group_by":"source"}"#,
                "rule `x`",
                "`group_by` does not apply",
            ),
            (r#"{"name":"x","kind":"new_pattern","severity":"info","above":3}"#, "rule `x`", "`above` does not apply"),
            (r#"{"name":"x","kind":"absence","severity":"info"}"#, "rule `x`", "`for` is required"),
            (r#"{"name":"x","kind":"absence","for":"1m","severity":"loud"}"#, "rule `x`", "loud"),
            (r#"{"name":"x","kind":"panic","severity":"info"}"#, "rule `x`", "panic"),
            (r#"{"name":"X Y","kind":"absence","for":"1m","severity":"info"}"#, "rule `X Y`", "`name`"),
            (r#"{"kind":"absence","for":"1m","severity":"info"}"#, "rule #1", "name"),
            (
                r#"{"name":"x","kind":"absence","for":"1m","severity":"info","filter":{"level":"LOUD"}}"#,
                "rule `x`",
                "LOUD",
            ),
            (r#"{"name":"x","kind":"new_pattern","severity":"info","max_keys":0}"#, "rule `x`", "`max_keys`"),
            (
                r#"{"name":"x","kind":"rate_change","window":"5m","baseline":"1h","factor":2,"min_events":0,"severity":"info"}"#,
                "rule `x`",
                "`min_events`",
            ),
        ];
        for (rule, label, detail) in cases {
            let err = error_of(rule);
            assert!(err.contains(label) && err.contains(detail), "{rule}: {err}");
        }
        let dup = r#"{"name":"x","kind":"absence","for":"1m","severity":"info"}"#;
        assert!(error_of(&format!("{dup},{dup}")).contains("used by another rule"));
        for bad in ["{}", "[]", r#"{"rules": []}"#, r#"{"rules": [], "extra": 1}"#, ""] {
            assert!(Settings::from_json(bad).is_err(), "{bad}");
        }
    }
}
