//! The stage's configuration, as written in the pipeline file.

use serde::Deserialize;

/// The `config` object of a `mine` stage; every key is optional. Unknown keys are refused, so a
/// typo is reported at start-up instead of being silently ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Share of equal tokens (0–1) a message needs to join a pattern.
    pub similarity: f64,
    /// Depth of the parse tree, counting the root and the token-count layer (Drain's `depth`).
    pub depth: usize,
    /// Children per tree node before new tokens share the wildcard branch.
    pub max_children: usize,
    /// Sample messages kept per pattern.
    pub max_samples: usize,
    /// Patterns created at most; beyond, messages join the closest pattern or the catch-all.
    pub max_patterns: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { similarity: 0.5, depth: 4, max_children: 100, max_samples: 3, max_patterns: 50_000 }
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
        if !(3..=16).contains(&self.depth) {
            return Err(format!("depth must be between 3 and 16, not {}", self.depth));
        }
        if self.max_children < 2 {
            return Err("max_children must be at least 2".into());
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
        let s = Settings::from_json(r#"{"similarity": 0.7, "depth": 5, "max_patterns": 10}"#);
        let s = s.unwrap();
        assert_eq!((s.similarity, s.depth, s.max_patterns, s.max_children), (0.7, 5, 10, 100));
    }

    #[test]
    fn errors() {
        let err = Settings::from_json(r#"{"simlarity": 0.5}"#).unwrap_err();
        assert!(err.contains("simlarity"), "{err}");
        for bad in [
            r#"{"similarity": 1.5}"#,
            r#"{"depth": 2}"#,
            r#"{"max_children": 1}"#,
            r#"{"max_patterns": 0}"#,
            r#"{"max_samples": -1}"#,
            r#"{"depth": "4"}"#,
            "[]",
        ] {
            assert!(Settings::from_json(bad).is_err(), "{bad}");
        }
    }
}
