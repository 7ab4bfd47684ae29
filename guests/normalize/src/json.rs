//! Reading a JSON object record without building a document tree.
//!
//! The object is read once into its top-level key/value pairs, each value left as its raw JSON
//! text (borrowed from the record, so no copy). Keys and string values that contain no escapes
//! stay borrowed too. Only what ends up in an event is copied, and an attribute's value needs no
//! re-serialisation since the raw text already is its JSON.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, Deserialize, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::record::Item;

/// The pairs of a JSON object, in order, or `None` when `text` is not exactly one JSON object.
pub fn parse_object(text: &str) -> Option<Vec<(Cow<'_, str>, Item<'_>)>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let pairs = de.deserialize_map(PairsVisitor).ok()?;
    de.end().ok()?;
    Some(pairs)
}

/// Decodes a JSON string literal (quotes included), borrowing when it has no escapes.
pub fn decode_string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Vec<(Cow<'de, str>, Item<'de>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::with_capacity(16);
        while let Some(Key(key)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            pairs.push((key, Item::Json(value.get().trim())));
        }
        Ok(pairs)
    }
}

/// An object key, borrowed from the record unless it had to be unescaped.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{decode_string, parse_object};
    use crate::record::Item;

    #[test]
    fn pairs_in_order_with_raw_values() {
        let pairs = parse_object(r#" {"b": 1, "a\u0041": {"x": [1, 2]}, "s": "t\"q"} "#).unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0], (Cow::Borrowed("b"), Item::Json("1")));
        assert_eq!(pairs[1].0, "aA");
        assert_eq!(pairs[1].1, Item::Json(r#"{"x": [1, 2]}"#));
        assert_eq!(pairs[2].1, Item::Json(r#""t\"q""#));
    }

    #[test]
    fn not_an_object() {
        for text in ["", "{", "[1]", "\"s\"", "{\"a\": 1} x", "{\"a\" 1}", "{1: 2}", "nul"] {
            assert!(parse_object(text).is_none(), "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_not_a_crash() {
        let text = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse_object(&text).map(|pairs| pairs.len()), Some(1));
    }

    #[test]
    fn strings_decode() {
        assert_eq!(decode_string(r#""plain""#), Some(Cow::Borrowed("plain")));
        assert_eq!(decode_string(r#""a\nb""#).as_deref(), Some("a\nb"));
        assert_eq!(decode_string(r#""bad\x""#), None);
        assert_eq!(decode_string("\""), None);
    }
}
