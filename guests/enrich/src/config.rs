//! The stage's configuration, as written in the pipeline file.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::level::Level;

/// The `config` object of an `enrich` stage; every key is optional. Unknown keys are refused, so
/// a typo is reported at start-up instead of being silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Ask the model about new patterns (when the host has an endpoint). `false` keeps every
    /// insight offline.
    request_model: bool,
    /// Lowest level (DEBUG, INFO, WARNING, ERROR, CRITICAL) of a pattern worth a model request;
    /// patterns below it keep their offline insight.
    min_level: String,
    /// Model requests waiting for an answer at most; further patterns wait for a free slot.
    max_pending: usize,
    /// A pattern bursts when its events in the current minute exceed this many times its average
    /// per minute over the minutes before.
    burst_factor: f64,
    /// Fewest events in the current minute that can count as a burst.
    burst_min_count: u64,
    /// A pattern is rare when its share of all events seen is below this fraction...
    rare_fraction: f64,
    /// ...once the stage has seen at least this many events.
    rare_min_total: u64,
    /// Patterns tracked at most; beyond, the least recently seen are forgotten.
    max_patterns: usize,
}

impl Default for Config {
    fn default() -> Self {
        let s = Settings::default();
        Self {
            request_model: s.request_model,
            min_level: s.min_level.as_str().into(),
            max_pending: s.max_pending,
            burst_factor: s.burst_factor,
            burst_min_count: s.burst_min_count,
            rare_fraction: s.rare_fraction,
            rare_min_total: s.rare_min_total,
            max_patterns: s.max_patterns,
        }
    }
}

/// The validated configuration the stage runs with; each key is documented on `Config`, which it
/// is read from, and in the README.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub request_model: bool,
    pub min_level: Level,
    pub max_pending: usize,
    pub burst_factor: f64,
    pub burst_min_count: u64,
    pub rare_fraction: f64,
    pub rare_min_total: u64,
    pub max_patterns: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            request_model: true,
            min_level: Level::Debug,
            max_pending: 256,
            burst_factor: 3.0,
            burst_min_count: 10,
            rare_fraction: 0.001,
            rare_min_total: 1000,
            max_patterns: 10_000,
        }
    }
}

impl Settings {
    /// Parses and validates the config JSON text; the error names the key and is meant for the
    /// user.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        if !text.trim_start().starts_with('{') {
            return Err("invalid enrich config: expected a JSON object".into());
        }
        let object: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| format!("invalid enrich config: {e}"))?;
        let config = parse(&object).map_err(|e| format!("invalid enrich config: {e}"))?;
        Self::validate(config).map_err(|e| format!("invalid enrich config: {e}"))
    }

    fn validate(c: Config) -> Result<Self, String> {
        let min_level = Level::parse(&c.min_level).ok_or_else(|| {
            format!("min_level {:?} is not a level (use DEBUG, INFO, WARNING, ERROR or CRITICAL)", c.min_level)
        })?;
        if !(1..=4096).contains(&c.max_pending) {
            return Err(format!("max_pending must be between 1 and 4096, not {}", c.max_pending));
        }
        if !(c.burst_factor >= 1.0 && c.burst_factor <= 1000.0) {
            return Err(format!("burst_factor must be between 1 and 1000, not {}", c.burst_factor));
        }
        if c.burst_min_count == 0 {
            return Err("burst_min_count must be at least 1".into());
        }
        if !(c.rare_fraction > 0.0 && c.rare_fraction < 1.0) {
            return Err(format!("rare_fraction must be above 0 and below 1, not {}", c.rare_fraction));
        }
        if !(1..=1_000_000).contains(&c.max_patterns) {
            return Err(format!("max_patterns must be between 1 and 1000000, not {}", c.max_patterns));
        }
        Ok(Self {
            request_model: c.request_model,
            min_level,
            max_pending: c.max_pending,
            burst_factor: c.burst_factor,
            burst_min_count: c.burst_min_count,
            rare_fraction: c.rare_fraction,
            rare_min_total: c.rare_min_total,
            max_patterns: c.max_patterns,
        })
    }
}

/// Reads the config object. serde's message for a value of the wrong type does not say which key
/// it belongs to, so on failure each key is tried alone to name the one at fault.
fn parse(object: &Map<String, Value>) -> Result<Config, String> {
    let alone = |key: &String, value: &Value| {
        let single: Map<String, Value> = std::iter::once((key.clone(), value.clone())).collect();
        serde_json::from_value::<Config>(Value::Object(single)).is_err()
    };
    serde_json::from_value(Value::Object(object.clone())).map_err(|e| match object.iter().find(|(k, v)| alone(k, v)) {
        Some((key, _)) => format!("{key}: {e}"),
        None => e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::Settings;
    use crate::level::Level;

    #[test]
    fn defaults_and_values() {
        assert_eq!(Settings::from_json(""), Ok(Settings::default()));
        assert_eq!(Settings::from_json("{}"), Ok(Settings::default()));
        let s = Settings::from_json(r#"{"request_model": false, "min_level": "warning", "burst_factor": 5}"#).unwrap();
        assert_eq!((s.request_model, s.min_level, s.burst_factor), (false, Level::Warning, 5.0));
    }

    #[test]
    fn errors_name_the_key() {
        for (bad, key) in [
            (r#"{"request_modle": true}"#, "request_modle"),
            (r#"{"min_level": "LOUD"}"#, "min_level"),
            (r#"{"max_pending": 0}"#, "max_pending"),
            (r#"{"burst_factor": 0.5}"#, "burst_factor"),
            (r#"{"burst_min_count": 0}"#, "burst_min_count"),
            (r#"{"rare_fraction": 1.5}"#, "rare_fraction"),
            (r#"{"max_patterns": 0}"#, "max_patterns"),
            (r#"{"max_pending": "8"}"#, "max_pending: invalid type"),
        ] {
            let err = Settings::from_json(bad).unwrap_err();
            assert!(err.contains(key), "{bad}: {err}");
        }
        assert!(Settings::from_json("[]").is_err());
    }
}
