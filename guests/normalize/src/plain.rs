//! Reading plain text lines, taking a leading timestamp and level out of the message.
//!
//! `2024-05-01 12:00:00,123 WARN [main] cache miss` has its time and level in front of the
//! message; moving them into fields makes the message comparable across lines (which the mining
//! stage relies on). Only prefixes that are clearly not prose are taken: a timestamp of a known
//! shape, then a level that is bracketed (`[error]`), in capitals (`ERROR`), or follows a
//! timestamp. `Error connecting to db` at the start of a line stays a message.

use std::borrow::Cow;

use crate::fields::Field;
use crate::level::Level;
use crate::record::Parsed;
use crate::time;

/// Reads a plain text line. The message is the line without the prefixes taken out (or the whole
/// line, if nothing else would remain).
pub fn parse_line(line: &str) -> Parsed<'_> {
    let line = line.trim();
    let mut parsed = Parsed::default();
    let mut rest = line;

    if let Some((ns, after)) = leading_timestamp(rest) {
        parsed.timestamp_ns = Some(ns);
        rest = skip_separators(after);
    }
    if let Some((level, after)) = leading_level(rest, parsed.timestamp_ns.is_some()) {
        parsed.level = Some(level);
        rest = skip_separators(after);
    }
    let message = if rest.is_empty() { line } else { rest };
    parsed.set(Field::Message, Cow::Borrowed(message));
    parsed
}

/// A timestamp at the start of `s`, bare or in square brackets, and the text after it.
fn leading_timestamp(s: &str) -> Option<(i64, &str)> {
    let (inner, bracketed) = match s.strip_prefix('[') {
        Some(inner) => (inner, true),
        None => (s, false),
    };
    let len = time::date_time_prefix_len(inner)?;
    let ns = time::parse_date_time(inner.get(..len)?)?;
    let after = inner.get(len..)?;
    let after = if bracketed { after.strip_prefix(']')? } else { after };
    ends_token(after).then_some((ns, after))
}

/// A level word at the start of `s` and the text after it. A bare word counts only in capitals or
/// after a timestamp; a bracketed one (`[warn]`, `<ERROR>`, `(info)`) always does.
fn leading_level(s: &str, after_timestamp: bool) -> Option<(Level, &str)> {
    let close = match s.as_bytes().first()? {
        b'[' => Some(']'),
        b'<' => Some('>'),
        b'(' => Some(')'),
        _ => None,
    };
    let inner = if close.is_some() { s.get(1..)? } else { s };
    let word_len = inner.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(inner.len());
    let word = inner.get(..word_len)?;
    let level = Level::from_name(word)?;
    let mut after = inner.get(word_len..)?;
    if let Some(close) = close {
        after = after.strip_prefix(close)?;
    } else if !after_timestamp && word.bytes().any(|b| b.is_ascii_lowercase()) {
        return None;
    }
    after = after.strip_prefix(':').unwrap_or(after);
    ends_token(after).then_some((level, after))
}

/// Whether `s` starts at a token boundary (whitespace or the end).
fn ends_token(s: &str) -> bool {
    s.chars().next().is_none_or(char::is_whitespace)
}

/// Skips whitespace and one separator such as `-`, `|` or `:` standing between prefix and message.
fn skip_separators(s: &str) -> &str {
    let s = s.trim_start();
    for sep in ["- ", "| ", ": ", "-- "] {
        if let Some(rest) = s.strip_prefix(sep) {
            return rest.trim_start();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::parse_line;
    use crate::fields::Field;
    use crate::level::Level;

    const BASE: i64 = 1_714_564_800_000_000_000;

    fn parts(line: &str) -> (Option<i64>, Option<Level>, String) {
        let parsed = parse_line(line);
        let message = parsed.texts[Field::Message.index()].clone().unwrap_or_default();
        (parsed.timestamp_ns, parsed.level, message.into_owned())
    }

    #[test]
    fn timestamp_and_level_prefixes() {
        assert_eq!(parts("2024-05-01T12:00:00Z ERROR disk full"), (Some(BASE), Some(Level::Error), "disk full".into()));
        assert_eq!(
            parts("2024-05-01 12:00:00,123 WARN [main] cache miss"),
            (Some(BASE + 123_000_000), Some(Level::Warning), "[main] cache miss".into())
        );
        assert_eq!(parts("[2024-05-01 12:00:00] [info] started"), (Some(BASE), Some(Level::Info), "started".into()));
        assert_eq!(
            parts("2024-05-01 12:00:00 +02:00 warn: low memory"),
            (Some(BASE - 7_200_000_000_000), Some(Level::Warning), "low memory".into())
        );
    }

    #[test]
    fn level_alone() {
        assert_eq!(parts("[ERROR] x"), (None, Some(Level::Error), "x".into()));
        assert_eq!(parts("ERROR: x"), (None, Some(Level::Error), "x".into()));
        assert_eq!(parts("WARN - x"), (None, Some(Level::Warning), "x".into()));
        assert_eq!(parts("<crit> x"), (None, Some(Level::Critical), "x".into()));
    }

    #[test]
    fn prose_is_left_alone() {
        assert_eq!(parts("Error connecting to db"), (None, None, "Error connecting to db".into()));
        assert_eq!(parts("ERRORS everywhere"), (None, None, "ERRORS everywhere".into()));
        assert_eq!(parts("  just text  "), (None, None, "just text".into()));
        assert_eq!(parts("2024-05-01T12:00:00Zulu x"), (None, None, "2024-05-01T12:00:00Zulu x".into()));
        assert_eq!(parts("2024-99-01 12:00:00 x"), (None, None, "2024-99-01 12:00:00 x".into()));
    }

    #[test]
    fn nothing_left_keeps_the_line() {
        assert_eq!(parts("ERROR"), (None, Some(Level::Error), "ERROR".into()));
        assert_eq!(parts(""), (None, None, String::new()));
    }
}
