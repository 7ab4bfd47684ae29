//! Harmonizing log levels.
//!
//! Producers spell levels in many ways: syslog keywords and numbers, Python's numeric levels,
//! Java's `SEVERE`, Go's `warn`... Downstream stages and the UI want exactly five names, so every
//! spelling is mapped here, in one table.

/// The five canonical levels, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

/// Longest level name we recognise; anything longer is not a level and is not worth lowering.
const MAX_NAME: usize = 13;

impl Level {
    /// The canonical spelling stored in the event's `level` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
            Self::Critical => "CRITICAL",
        }
    }

    /// Parses a level given as text: a name in any case, or a number in text form.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        match text.as_bytes().first() {
            Some(b'0'..=b'9') => text.parse::<i64>().ok().and_then(Self::from_number),
            _ => Self::from_name(text),
        }
    }

    /// Maps a level name, case-insensitively. No allocation: names are short, so they are lowered
    /// into a stack buffer.
    pub fn from_name(name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_NAME {
            return None;
        }
        let mut buf = [0u8; MAX_NAME];
        let lowered = buf.get_mut(..bytes.len())?;
        for (dst, src) in lowered.iter_mut().zip(bytes) {
            *dst = src.to_ascii_lowercase();
        }
        Some(match &*lowered {
            b"trace" | b"verbose" | b"debug" | b"dbg" | b"fine" | b"finer" | b"finest" => Self::Debug,
            b"info" | b"information" | b"informational" | b"notice" | b"log" | b"config" => Self::Info,
            b"warn" | b"warning" => Self::Warning,
            b"err" | b"error" | b"severe" => Self::Error,
            b"fatal" | b"crit" | b"critical" | b"emerg" | b"emergency" | b"alert" | b"panic" => Self::Critical,
            _ => return None,
        })
    }

    /// Maps a numeric level: syslog severities 0–7, and Python's 10/20/30/40/50.
    pub const fn from_number(n: i64) -> Option<Self> {
        Some(match n {
            0..=2 | 50 => Self::Critical,
            3 | 40 => Self::Error,
            4 | 30 => Self::Warning,
            5 | 6 | 20 => Self::Info,
            7 | 10 => Self::Debug,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn names_in_any_case() {
        for (text, level) in [
            ("trace", Level::Debug),
            ("VERBOSE", Level::Debug),
            ("Dbg", Level::Debug),
            ("info", Level::Info),
            ("Informational", Level::Info),
            ("NOTICE", Level::Info),
            ("log", Level::Info),
            ("warn", Level::Warning),
            ("WARNING", Level::Warning),
            ("err", Level::Error),
            ("SEVERE", Level::Error),
            ("fatal", Level::Critical),
            ("Emergency", Level::Critical),
            ("alert", Level::Critical),
            ("PANIC", Level::Critical),
            (" error ", Level::Error),
        ] {
            assert_eq!(Level::parse(text), Some(level), "{text}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(Level::parse("0"), Some(Level::Critical));
        assert_eq!(Level::parse("3"), Some(Level::Error));
        assert_eq!(Level::parse("4"), Some(Level::Warning));
        assert_eq!(Level::parse("6"), Some(Level::Info));
        assert_eq!(Level::parse("7"), Some(Level::Debug));
        assert_eq!(Level::parse("10"), Some(Level::Debug));
        assert_eq!(Level::parse("30"), Some(Level::Warning));
        assert_eq!(Level::parse("50"), Some(Level::Critical));
        assert_eq!(Level::parse("8"), None);
        assert_eq!(Level::parse("99999999999999999999999"), None);
    }

    #[test]
    fn unknown_names() {
        assert_eq!(Level::parse(""), None);
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::parse("informationalx"), None);
        assert_eq!(Level::parse("ÉRROR"), None);
    }
}
