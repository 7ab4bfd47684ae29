//! The stage's configuration, as written in the pipeline file.

use serde::Deserialize;

/// The `config` object of a `mine` stage; every key is optional. Unknown keys are refused, so a
/// typo is reported at start-up instead of being silently ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Once `max_patterns` is reached: the share of equal tokens (0–1) a message needs to join
    /// the closest pattern rather than the catch-all. Before that, messages join only patterns
    /// whose every constant they hold, and merges do the generalising.
    pub similarity: f64,
    /// Distinct words seen at one position, among patterns equal everywhere else, before that
    /// position counts as a variable and the patterns merge. Below it, the words are taken as
    /// wording that tells events apart (`VM Started`, `VM Paused`).
    pub min_variable_values: usize,
    /// Sample messages kept per pattern.
    pub max_samples: usize,
    /// Patterns created at most; beyond, messages join the closest pattern or the catch-all.
    pub max_patterns: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { similarity: 0.5, min_variable_values: 5, max_samples: 3, max_patterns: 50_000 }
    }
}

impl Settings {
    /// Parses and validates the config JSON text; the error is meant for the user.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        if !text.trim_start().starts_with('{') {
            return Err("invalid mine config: expected a JSON object".into());
        }
        let settings: Self = serde_json::from_str(text).map_err(|e| format!("invalid mine config: {e}"))?;
        settings.validate().map_err(|e| format!("invalid mine config: {e}"))?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.similarity) {
            return Err(format!("similarity must be between 0 and 1, not {}", self.similarity));
        }
        if self.min_variable_values < 2 {
            return Err("min_variable_values must be at least 2".into());
        }
        if self.max_samples > 100 {
            return Err("max_samples must be at most 100".into());
        }
        if self.max_patterns == 0 {
            return Err("max_patterns must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    #[test]
    fn defaults_and_values() {
        assert_eq!(Settings::from_json("{}"), Ok(Settings::default()));
        let s = Settings::from_json(r#"{"similarity": 0.7, "min_variable_values": 3, "max_patterns": 10}"#);
        let s = s.unwrap();
        assert_eq!((s.similarity, s.min_variable_values, s.max_patterns, s.max_samples), (0.7, 3, 10, 3));
    }

    #[test]
    fn errors() {
        let err = Settings::from_json(r#"{"simlarity": 0.5}"#).unwrap_err();
        assert!(err.contains("simlarity"), "{err}");
        for bad in [
            r#"{"similarity": 1.5}"#,
            r#"{"min_variable_values": 1}"#,
            r#"{"depth": 4}"#,
            r#"{"max_patterns": 0}"#,
            r#"{"max_samples": -1}"#,
            r#"{"min_variable_values": "4"}"#,
            "[]",
        ] {
            assert!(Settings::from_json(bad).is_err(), "{bad}");
        }
    }
}
