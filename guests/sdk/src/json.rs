//! Writing JSON string literals.
//!
//! Attribute values cross the boundary as JSON text, so every guest that turns a plain string into
//! an attribute must quote and escape it. This is small enough to write out, and keeps the SDK free
//! of a JSON library for guests that need none.

/// Appends `s` to `out` as a JSON string literal, quotes included.
pub fn push_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is the position of an ASCII byte, so it is always a char boundary.
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// `s` as a JSON string literal, quotes included.
pub fn to_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::to_json_string;

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(to_json_string("plain"), r#""plain""#);
        assert_eq!(to_json_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(to_json_string("l1\nl2\t\u{1}"), r#""l1\nl2\t\u0001""#);
        assert_eq!(to_json_string("héllo ✓"), "\"héllo ✓\"");
        assert_eq!(to_json_string(""), r#""""#);
    }
}
