//! Event levels and insight severities.
//!
//! Events arrive after `normalize`, so their level is one of five canonical names; an insight's
//! severity uses the four words a model is asked for. The mapping between the two lives here.

use serde::{Deserialize, Serialize};

/// The canonical event levels, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    /// Parses a canonical level name, in any case (`WARN` is accepted for `WARNING`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let level = match () {
            () if text.eq_ignore_ascii_case("DEBUG") => Self::Debug,
            () if text.eq_ignore_ascii_case("INFO") => Self::Info,
            () if text.eq_ignore_ascii_case("WARNING") || text.eq_ignore_ascii_case("WARN") => Self::Warning,
            () if text.eq_ignore_ascii_case("ERROR") => Self::Error,
            () if text.eq_ignore_ascii_case("CRITICAL") => Self::Critical,
            () => return None,
        };
        Some(level)
    }

    /// The level of an event as this stage reads it: an empty or unknown level counts as INFO,
    /// the level `normalize` gives events that have none.
    pub fn of_event(text: &str) -> Self {
        Self::parse(text).unwrap_or(Self::Info)
    }

    /// The canonical name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
            Self::Critical => "CRITICAL",
        }
    }
}

/// How serious an insight says a pattern is: the words of the insight's `severity` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    /// The severity a level implies before any message cue is considered (DEBUG and INFO are both
    /// `info`).
    pub const fn of_level(level: Level) -> Self {
        match level {
            Level::Debug | Level::Info => Self::Info,
            Level::Warning => Self::Warning,
            Level::Error => Self::Error,
            Level::Critical => Self::Critical,
        }
    }

    /// Parses one of the four words, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::Error, Self::Critical]
            .into_iter()
            .find(|s| text.trim().eq_ignore_ascii_case(s.as_str()))
    }

    /// The word used in insights.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Level, Severity};

    #[test]
    fn levels_and_severities() {
        assert_eq!(Level::parse("warning"), Some(Level::Warning));
        assert_eq!(Level::parse("WARN"), Some(Level::Warning));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::of_event(""), Level::Info);
        assert!(Level::Debug < Level::Critical);
        assert_eq!(Severity::of_level(Level::Debug), Severity::Info);
        assert_eq!(Severity::of_level(Level::Critical), Severity::Critical);
        assert_eq!(Severity::parse(" Error "), Some(Severity::Error));
        assert_eq!(Severity::parse("fatal"), None);
    }
}
