//! Recognising tokens that are obviously variable, before clustering.
//!
//! The miner compares constants; a number that differs in every line would otherwise make each
//! line look new. Masking the unmistakable cases up front (numbers, hex, addresses,
//! UUIDs, paths, durations) makes lines of one family equal at those positions from the first
//! message on. Checks are hand-written byte scans: this runs on every token of every message.

/// Whether `token` (already stripped of surrounding punctuation) is a variable value.
pub fn is_variable(token: &str) -> bool {
    let b = token.as_bytes();
    match b.first() {
        Some(b'0'..=b'9') => is_numeric(b) || is_hex_prefixed(b) || is_uuid(b) || is_long_hex(b) || is_date_time(b),
        Some(b'+' | b'-') => is_numeric(b),
        Some(b'/') => is_absolute_path(b),
        Some(b'a'..=b'f' | b'A'..=b'F') => is_uuid(b) || is_long_hex(b) || is_windows_path(b) || is_url(b),
        Some(c) if c.is_ascii_alphabetic() => is_windows_path(b) || is_url(b),
        _ => false,
    }
}

/// A word holding a run of at least four digits (`blk_4292382298`, `attempt_1445_0020_m_0`,
/// `Thread-1234`): generated ids and counters, not wording. Shorter runs (`ssh2`, `x86_64`,
/// `sha256`) are often names.
///
/// Checked after [`is_variable`] and after a separated number has been looked for (`core.1234`
/// keeps `core.`), so only the rest of such words is masked whole.
pub fn is_generated_id(token: &str) -> bool {
    let b = token.as_bytes();
    let mut run = 0;
    for c in b {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 4 {
            return true;
        }
    }
    false
}

/// Digits with separators (`12`, `-3.5`, `1,024`, `10.0.0.1:8080`, `12:30:01`, `2024-05-01`),
/// optionally followed by a unit (`12ms`, `1.5s`, `64KiB`, `99%`).
fn is_numeric(b: &[u8]) -> bool {
    let start = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(start).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let end = b
        .iter()
        .skip(start)
        .position(|c| !(c.is_ascii_digit() || matches!(c, b'.' | b',' | b':' | b'-' | b'/' | b'_')))
        .map_or(b.len(), |p| p + start);
    match b.get(end..) {
        None | Some([]) => true,
        Some(unit) => is_unit(unit),
    }
}

/// Units that follow numbers in logs: durations, sizes, rates, percentages.
fn is_unit(unit: &[u8]) -> bool {
    const UNITS: &[&[u8]] = &[
        b"ns",
        b"us",
        "µs".as_bytes(),
        b"ms",
        b"s",
        b"sec",
        b"secs",
        b"m",
        b"min",
        b"mins",
        b"h",
        b"hr",
        b"hrs",
        b"d",
        b"b",
        b"k",
        b"kb",
        b"mb",
        b"gb",
        b"tb",
        b"kib",
        b"mib",
        b"gib",
        b"tib",
        b"bytes",
        b"%",
    ];
    unit.len() <= 5 && UNITS.iter().any(|u| u.eq_ignore_ascii_case(unit))
}

/// `0x1f`, `0XDEAD`.
fn is_hex_prefixed(b: &[u8]) -> bool {
    matches!(b, [b'0', b'x' | b'X', rest @ ..] if !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit))
}

/// A run of at least eight hex digits with at least one decimal digit (hashes, ids), so words
/// that happen to use only the letters a–f are not taken.
fn is_long_hex(b: &[u8]) -> bool {
    b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(u8::is_ascii_digit)
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `2024-05-01T12:00:00[.123][Z|+02:00]`: an ISO date-time glued into one token.
fn is_date_time(b: &[u8]) -> bool {
    let Some(t) = b.iter().position(|&c| c == b'T') else {
        return false;
    };
    let (date, time) = b.split_at(t);
    let time = time.get(1..).unwrap_or_default();
    let numeric_or_empty = |s: &[u8]| s.is_empty() || is_numeric(s);
    let zone_end = time.iter().position(|&c| matches!(c, b'Z' | b'+')).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_end);
    date.len() == 10
        && is_numeric(date)
        && is_numeric(clock)
        && match zone {
            [] | [b'Z'] => true,
            [b'+', rest @ ..] => numeric_or_empty(rest),
            _ => false,
        }
}

/// `/var/log/app.log`, `/api/v1/users`: a slash followed by something other than a slash.
fn is_absolute_path(b: &[u8]) -> bool {
    matches!(b, [b'/', second, ..] if *second != b'/')
}

/// `C:\Windows\...`.
fn is_windows_path(b: &[u8]) -> bool {
    matches!(b, [drive, b':', b'\\', ..] if drive.is_ascii_alphabetic())
}

/// `scheme://...`.
fn is_url(b: &[u8]) -> bool {
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return false;
    };
    colon > 0
        && colon <= 10
        && b.get(..colon).is_some_and(|s| s.iter().all(u8::is_ascii_alphanumeric))
        && b.get(colon..).is_some_and(|rest| rest.starts_with(b"://") && rest.len() > 3)
}

#[cfg(test)]
mod tests {
    use super::is_variable;

    #[test]
    fn variables() {
        for token in [
            "0",
            "123",
            "-42",
            "+7",
            "3.14",
            "1,024",
            "10.0.0.1",
            "10.0.0.1:8080",
            "12:30:01",
            "2024-05-01",
            "12ms",
            "1.5s",
            "250us",
            "64KiB",
            "99%",
            "0x1f",
            "0XDEAD",
            "deadbeef1",
            "a1b2c3d4e5f6",
            "123e4567-e89b-12d3-a456-426614174000",
            "/var/log/app.log",
            "/api/v1/users",
            "C:\\Windows\\x.dll",
            "https://example.com/a",
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.123+02:00",
            "5µs",
        ] {
            assert!(is_variable(token), "{token} should be variable");
        }
    }

    #[test]
    fn generated_ids() {
        for token in ["blk_4292382298896622412", "Thread-1234", "attempt_1445_0020_m_0"] {
            assert!(super::is_generated_id(token), "{token}");
        }
        for token in ["ssh2", "x86_64", "sha256", "node-41"] {
            assert!(!super::is_generated_id(token), "{token}");
        }
    }

    #[test]
    fn constants() {
        for token in [
            "",
            "user",
            "User",
            "deadbeef",
            "facade",
            "-",
            "+",
            "/",
            "//comment",
            "v2",
            "user123",
            "12monkeys",
            "IPv4",
            "http:",
            "a:b",
            "ERROR",
            "0x",
            "3x",
            "1.5sx",
            "abc-def",
            "123e4567-e89b-12d3-a456-42661417400",
            "T",
            "2024-05-01Tnoon",
            "ssh2",
            "Thread-1234",
        ] {
            assert!(!is_variable(token), "{token} should be constant");
        }
    }
}
