//! Turning the timestamps producers send into UTC nanoseconds since the Unix epoch.
//!
//! Calendar arithmetic and validation are left to `chrono`; this module only recognises the
//! shapes seen in practice and bends the common near-misses (a space or `t` instead of `T`, a comma
//! before the fraction, slashes in the date) into what chrono's parsers accept, without
//! allocating.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// Longest date-time text we try to parse; longer strings are not timestamps.
const MAX_TEXT: usize = 64;

/// Parses a timestamp given as text: a date-time (RFC 3339 with any offset, or without offset
/// taken as UTC), or a Unix epoch number in seconds, milliseconds, microseconds or nanoseconds.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    match text.as_bytes().first()? {
        b'-' | b'+' | b'.' => parse_epoch(text),
        b'0'..=b'9' if looks_numeric(text) => parse_epoch(text),
        _ => parse_date_time(text),
    }
}

/// Whether `text` is a plain number (digits with at most a sign, a point and an exponent), as
/// opposed to a date-time that also starts with digits.
fn looks_numeric(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
        && text.as_bytes().get(4).is_none_or(|&b| b != b'-')
}

/// An epoch number. Its unit is decided by magnitude: below 10^11 it is seconds (until the year
/// 5138), below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds.
pub fn parse_epoch(text: &str) -> Option<i64> {
    if let Some(ns) = parse_decimal_epoch(text) {
        return Some(ns);
    }
    // Exponent notation: rare enough that f64 precision (about 256 ns today) is acceptable.
    let x = text.parse::<f64>().ok().filter(|x| x.is_finite())?;
    let ns = x * 10f64.powi(9 - unit_exponent(x.abs()));
    // The bounds are exact in f64 (powers of two), so the cast below cannot saturate.
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&ns) {
        #[allow(clippy::cast_possible_truncation, reason = "range checked above")]
        Some(ns.round() as i64)
    } else {
        None
    }
}

/// Power of ten of the unit an epoch value of this magnitude is counted in (0 for seconds, 3 for
/// milliseconds, 6 for microseconds, 9 for nanoseconds).
fn unit_exponent(magnitude: f64) -> i32 {
    if magnitude < 1e11 {
        0
    } else if magnitude < 1e14 {
        3
    } else if magnitude < 1e17 {
        6
    } else {
        9
    }
}

/// `[-]digits[.digits]` converted exactly, without going through floating point, so
/// `1714564800.25` is exactly a quarter of a second past. Digits beyond nanoseconds are cut.
fn parse_decimal_epoch(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole_value: i64 = match whole {
        "" | "-" | "+" if !fraction.is_empty() => 0,
        _ => whole.parse().ok()?,
    };
    #[allow(clippy::cast_precision_loss, reason = "only the magnitude matters")]
    let exponent = unit_exponent(whole_value.unsigned_abs() as f64);
    let sub_unit_digits = usize::try_from(9 - exponent).ok()?;
    let scale = 10i64.pow(u32::try_from(sub_unit_digits).ok()?);
    let mut sub_unit: i64 = 0;
    for i in 0..sub_unit_digits {
        let digit = fraction.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        sub_unit = sub_unit * 10 + digit;
    }
    let negative = whole.starts_with('-');
    let ns = whole_value.checked_mul(scale)?;
    if negative { ns.checked_sub(sub_unit) } else { ns.checked_add(sub_unit) }
}

/// A date-time, `YYYY-MM-DD?HH:MM:SS[.fraction][offset]`, with the separator `T`, `t` or a space,
/// `.` or `,` before the fraction, `-` or `/` in the date, and an offset (`Z`, `+02:00`, `+0200`,
/// `UTC`) or none (UTC).
pub fn parse_date_time(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if !(19..=MAX_TEXT).contains(&bytes.len()) {
        return None;
    }
    let mut buf = [0u8; MAX_TEXT];
    let buf = buf.get_mut(..bytes.len())?;
    buf.copy_from_slice(bytes);
    for (i, b) in buf.iter_mut().enumerate() {
        match (i, *b) {
            (4 | 7, b'/') => *b = b'-',
            (10, b' ' | b't') => *b = b'T',
            (19, b',') => *b = b'.',
            _ => {}
        }
    }
    // Only ASCII bytes were replaced by ASCII bytes, so the text is still UTF-8.
    let text = std::str::from_utf8(buf).ok()?;
    if let Ok(with_offset) = DateTime::<FixedOffset>::from_str(text) {
        return with_offset.timestamp_nanos_opt();
    }
    NaiveDateTime::from_str(text).ok()?.and_utc().timestamp_nanos_opt()
}

/// Length of a date-time at the start of `line` (see [`parse_date_time`] for the shape), so a
/// plain-text line can have its leading timestamp taken out. Only the shape is checked here.
pub fn date_time_prefix_len(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let digits = |from: usize, n: usize| b.get(from..from + n).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let is = |at: usize, set: &[u8]| b.get(at).is_some_and(|c| set.contains(c));
    let date_ok = digits(0, 4) && is(4, b"-/") && digits(5, 2) && is(7, b"-/") && digits(8, 2);
    let time_ok = is(10, b"Tt ") && digits(11, 2) && is(13, b":") && digits(14, 2);
    if !(date_ok && time_ok && is(16, b":") && digits(17, 2)) {
        return None;
    }
    let mut end = 19;
    if is(end, b".,") && digits(end + 1, 1) {
        end += 1;
        while digits(end, 1) {
            end += 1;
        }
    }
    Some(end + offset_len(b.get(end..).unwrap_or_default()))
}

/// Length of a time-zone designator at the start of `rest`: `Z`, `UTC`, `±HH`, `±HHMM`, `±HH:MM`,
/// optionally after one space (but a space alone is not part of it).
fn offset_len(rest: &[u8]) -> usize {
    let (skip, tail) = match rest.first() {
        Some(b' ') => (1, rest.get(1..).unwrap_or_default()),
        _ => (0, rest),
    };
    let at_end = |n: usize| tail.get(n).is_none_or(|c| !c.is_ascii_alphanumeric());
    let digit = |n: usize| tail.get(n).is_some_and(u8::is_ascii_digit);
    let len = match tail.first() {
        Some(b'Z' | b'z') if skip == 0 && at_end(1) => 1,
        Some(b'U') if tail.starts_with(b"UTC") && at_end(3) => 3,
        Some(b'+' | b'-') if digit(1) && digit(2) => {
            if tail.get(3) == Some(&b':') && digit(4) && digit(5) {
                6
            } else if digit(3) && digit(4) {
                5
            } else {
                3
            }
        }
        _ => 0,
    };
    if len == 0 { 0 } else { skip + len }
}

#[cfg(test)]
mod tests {
    use super::{date_time_prefix_len, parse};

    /// 2024-05-01T12:00:00Z
    const BASE: i64 = 1_714_564_800_000_000_000;

    #[test]
    fn rfc3339_with_offsets() {
        assert_eq!(parse("2024-05-01T12:00:00Z"), Some(BASE));
        assert_eq!(parse("2024-05-01t12:00:00z"), Some(BASE));
        assert_eq!(parse("2024-05-01T14:00:00+02:00"), Some(BASE));
        assert_eq!(parse("2024-05-01T07:00:00-0500"), Some(BASE));
        assert_eq!(parse("2024-05-01T12:00:00.123456789Z"), Some(BASE + 123_456_789));
        assert_eq!(parse("2024-05-01 12:00:00 UTC"), Some(BASE));
        assert_eq!(parse("2024-05-01 12:00:00 +0000"), Some(BASE));
    }

    #[test]
    fn without_offset_is_utc() {
        assert_eq!(parse("2024-05-01 12:00:00"), Some(BASE));
        assert_eq!(parse("2024-05-01T12:00:00"), Some(BASE));
        assert_eq!(parse("2024-05-01 12:00:00.5"), Some(BASE + 500_000_000));
        assert_eq!(parse("2024-05-01 12:00:00,123"), Some(BASE + 123_000_000));
        assert_eq!(parse("2024/05/01 12:00:00"), Some(BASE));
    }

    #[test]
    fn epoch_numbers_by_magnitude() {
        assert_eq!(parse("1714564800"), Some(BASE));
        assert_eq!(parse("1714564800123"), Some(BASE + 123_000_000));
        assert_eq!(parse("1714564800123456"), Some(BASE + 123_456_000));
        assert_eq!(parse("1714564800123456789"), Some(BASE + 123_456_789));
        assert_eq!(parse("1714564800.25"), Some(BASE + 250_000_000));
        assert_eq!(parse("1.7145648e9"), Some(BASE));
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("1714564800123.456"), Some(BASE + 123_456_000));
        assert_eq!(parse("-1.5"), Some(-1_500_000_000));
        assert_eq!(parse(".5"), Some(500_000_000));
    }

    #[test]
    fn garbage_is_refused() {
        for text in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-02-30 00:00:00",
            "2024-05-01",
            "1e400",
            "NaN",
            "99999999999999999999999",
            "1.2.3",
            "-",
            ".",
            "2024-05-01T12:00:00Zjunk",
            "9999999-05-01T12:00:00Z",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn prefix_lengths() {
        assert_eq!(date_time_prefix_len("2024-05-01T12:00:00Z ERROR x"), Some(20));
        assert_eq!(date_time_prefix_len("2024-05-01 12:00:00,123 WARN x"), Some(23));
        assert_eq!(date_time_prefix_len("2024-05-01 12:00:00 +02:00 x"), Some(26));
        assert_eq!(date_time_prefix_len("2024-05-01 12:00:00 UTC"), Some(23));
        assert_eq!(date_time_prefix_len("2024-05-01 12:00:00 Zebra"), Some(19));
        assert_eq!(date_time_prefix_len("2024-05-01 12:00"), None);
        assert_eq!(date_time_prefix_len("hello"), None);
        assert_eq!(date_time_prefix_len("2024-05-01 12:00:00é"), Some(19));
    }
}
