//! The stage's configuration, as written in the pipeline file.

use serde::Deserialize;

use crate::attrs::MIN_MAX_BYTES;
use crate::level::Level;

/// The `config` object of a `normalize` stage. Unknown keys are refused, so a typo is reported at
/// start-up instead of being silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Level for events that have none, or one that cannot be understood.
    default_level: String,
    /// Attribute values longer than this (as JSON text) are truncated.
    max_attribute_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { default_level: "INFO".into(), max_attribute_bytes: 65_536 }
    }
}

/// The validated configuration the stage runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub default_level: Level,
    pub max_attribute_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { default_level: Level::Info, max_attribute_bytes: 65_536 }
    }
}

impl Settings {
    /// Parses and validates the config JSON text; the error is meant for the user.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        if !text.trim_start().starts_with('{') {
            return Err("invalid normalize config: expected a JSON object".into());
        }
        let config: Config = serde_json::from_str(text).map_err(|e| format!("invalid normalize config: {e}"))?;
        let default_level = Level::parse(&config.default_level).ok_or_else(|| {
            format!(
                "invalid normalize config: default_level {:?} is not a level \
                 (use DEBUG, INFO, WARNING, ERROR or CRITICAL)",
                config.default_level
            )
        })?;
        if config.max_attribute_bytes < MIN_MAX_BYTES {
            return Err(format!("invalid normalize config: max_attribute_bytes must be at least {MIN_MAX_BYTES}"));
        }
        Ok(Self { default_level, max_attribute_bytes: config.max_attribute_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;
    use crate::level::Level;

    #[test]
    fn defaults() {
        assert_eq!(Settings::from_json("{}"), Ok(Settings::default()));
        assert_eq!(Settings::from_json(""), Ok(Settings::default()));
    }

    #[test]
    fn values() {
        let s = Settings::from_json(r#"{"default_level": "warn", "max_attribute_bytes": 100}"#);
        assert_eq!(s, Ok(Settings { default_level: Level::Warning, max_attribute_bytes: 100 }));
    }

    #[test]
    fn errors_name_the_problem() {
        let err = Settings::from_json(r#"{"default_levle": "INFO"}"#).unwrap_err();
        assert!(err.contains("default_levle"), "{err}");
        assert!(Settings::from_json(r#"{"default_level": "LOUD"}"#).unwrap_err().contains("LOUD"));
        assert!(Settings::from_json(r#"{"max_attribute_bytes": 3}"#).is_err());
        assert!(Settings::from_json(r#"{"max_attribute_bytes": -3}"#).is_err());
        assert!(Settings::from_json("[]").is_err());
    }
}
