//! Keeping attribute values within bounds.
//!
//! One oversized field (a stack trace, a base64 blob) must not make an event too large for the
//! host or an output, so values beyond `max_attribute_bytes` are cut. The cut value is still valid
//! JSON: a string holding the beginning of the original text and a marker saying how long it was.

use sluice_guest::{Attribute, push_json_string};

/// Smallest accepted `max_attribute_bytes`: room for the marker and a useful prefix.
pub const MIN_MAX_BYTES: usize = 64;

/// Appends the attribute `key` = `value` (JSON text), truncating the value when longer than `max`.
pub fn push(attributes: &mut Vec<Attribute>, key: String, value: String, max: usize) {
    let value = if value.len() > max { truncate(&value, max) } else { value };
    attributes.push(Attribute { key, value });
}

/// A JSON string, at most `max` bytes long as JSON text, holding a prefix of `value` and a marker.
///
/// Escaping can lengthen the prefix, so it is shortened until the whole fits; `max` is at least
/// [`MIN_MAX_BYTES`], which always leaves room for the marker alone.
fn truncate(value: &str, max: usize) -> String {
    let marker = format!("…[truncated from {} bytes]", value.len());
    let mut keep = max.saturating_sub(marker.len() + 2);
    loop {
        let prefix = value.get(..floor_char_boundary(value, keep)).unwrap_or_default();
        let mut out = String::with_capacity(max);
        let mut text = String::with_capacity(prefix.len() + marker.len());
        text.push_str(prefix);
        text.push_str(&marker);
        push_json_string(&mut out, &text);
        if out.len() <= max || keep == 0 {
            return out;
        }
        // Each escaped byte grows by at most five, so this converges within a few rounds.
        keep = keep.saturating_sub((out.len() - max).max(keep / 4));
    }
}

/// The largest char boundary of `s` not above `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{MIN_MAX_BYTES, push};

    #[test]
    fn short_values_untouched() {
        let mut attrs = Vec::new();
        push(&mut attrs, "k".into(), "\"v\"".into(), MIN_MAX_BYTES);
        assert_eq!(attrs[0].value, "\"v\"");
    }

    #[test]
    fn long_values_cut_to_valid_json_within_bound() {
        for (value, max) in [
            (format!("\"{}\"", "x".repeat(500)), 100),
            (format!("{{\"a\": \"{}\"}}", "\\\"".repeat(400)), 100),
            ("é".repeat(300), 64),
            ("\u{1}".repeat(300), 64),
        ] {
            let mut attrs = Vec::new();
            push(&mut attrs, "k".into(), value.clone(), max);
            let cut = &attrs[0].value;
            assert!(cut.len() <= max, "{} > {max}: {cut}", cut.len());
            let decoded: String = serde_json::from_str(cut).unwrap();
            assert!(decoded.ends_with(&format!("[truncated from {} bytes]", value.len())));
        }
    }
}
