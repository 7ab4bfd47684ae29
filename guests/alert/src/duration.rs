//! Durations as written in pipeline files: `250ms`, `10s`, `5m`, `1h30m`, `2d`.
//!
//! A dozen lines, so no dependency: a duration is one or more `<integer><unit>` parts, units `ms`,
//! `s`, `m`, `h` and `d`. Bare numbers are refused on purpose: `window: 5` could mean seconds or
//! minutes, and guessing wrong makes a rule silently useless.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A duration in nanoseconds, parsed from its text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub i64);

/// Nanoseconds per unit.
const UNITS: [(&str, i64); 5] = [
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Longest duration accepted: a year, far beyond any sensible window, and far from overflow.
const MAX_NS: i64 = 366 * 86_400_000_000_000;

/// Parses `text`; the error says what is wrong with it.
pub fn parse(text: &str) -> Result<Span, String> {
    let invalid = || format!("invalid duration `{text}` (expected e.g. `250ms`, `30s`, `5m`, `1h30m`)");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..].bytes().take_while(u8::is_ascii_alphabetic).count();
        if digits == 0 || letters == 0 {
            return Err(invalid());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        let unit = &rest[digits..digits + letters];
        let (_, per) = UNITS.iter().find(|(name, _)| *name == unit).ok_or_else(invalid)?;
        total = number
            .checked_mul(*per)
            .and_then(|n| n.checked_add(total))
            .filter(|n| *n <= MAX_NS)
            .ok_or_else(|| format!("duration `{text}` is too long (at most 366d)"))?;
        rest = &rest[digits + letters..];
    }
    Ok(Span(total))
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Span {
    /// The shortest exact form: `5m`, `90s`, `250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for (name, per) in UNITS.iter().rev() {
            if self.0 % per == 0 {
                return write!(f, "{}{name}", self.0 / per);
            }
        }
        write!(f, "{}ns", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Span, parse};

    #[test]
    fn units_and_compounds() {
        assert_eq!(parse("250ms"), Ok(Span(250_000_000)));
        assert_eq!(parse("0s"), Ok(Span(0)));
        assert_eq!(parse("5m"), Ok(Span(300_000_000_000)));
        assert_eq!(parse("1h30m"), Ok(Span(5_400_000_000_000)));
        assert_eq!(parse(" 2d "), Ok(Span(172_800_000_000_000)));
    }

    #[test]
    fn refusals() {
        for bad in ["", "5", "m", "5 m", "5x", "-5s", "1.5s", "5mm", "99999999999999999999s", "400d"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_is_shortest_exact() {
        assert_eq!(Span(300_000_000_000).to_string(), "5m");
        assert_eq!(Span(90_000_000_000).to_string(), "90s");
        assert_eq!(Span(250_000_000).to_string(), "250ms");
        assert_eq!(Span(0).to_string(), "0s");
    }
}
