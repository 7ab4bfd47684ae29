//! How rule state is laid out in the host store.
//!
//! Every key starts with `a/<rule>/<fingerprint>/`, the fingerprint being the hash of the rule's
//! definition: a changed rule finds no state of its own (it starts fresh) and its old keys are
//! deleted at `init`, like those of removed rules. Under the prefix:
//!
//! | key | value |
//! | --- | --- |
//! | `m` | the rule's own state, a [`MetaRecord`] |
//! | `k/<hash of key>` | one tracked key (group, pattern), a [`KeyRecord`] |
//!
//! One store key per tracked key means a batch rewrites only the groups it touched. Values are
//! JSON with short names: compact, yet readable when inspecting the store.

use serde::{Deserialize, Serialize};

use crate::config::Rule;
use crate::fnv;

/// Prefix of every key of this stage.
pub const PREFIX: &str = "a/";

const VERSION: u32 = 1;

/// A change to the store, applied by the host adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Set(String, Vec<u8>),
    Delete(String),
}

/// The prefix of the keys of `rule` in its current definition.
pub fn rule_prefix(rule: &Rule) -> String {
    format!("{PREFIX}{}/{:016x}/", rule.name, rule.fingerprint)
}

/// The store key of the rule's own state.
pub fn meta_key(prefix: &str) -> String {
    format!("{prefix}m")
}

/// The store key of one tracked key.
pub fn entry_key(prefix: &str, key: &str) -> String {
    format!("{prefix}k/{}", fnv::hex(key))
}

/// The state of a rule as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRecord {
    /// Format version.
    pub v: u32,
    /// When the rule (in this definition) first ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub st: Option<i64>,
    /// When any key of the rule last alerted (cooldown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rf: Option<i64>,
    /// Triggers suppressed by cooldown since.
    #[serde(default)]
    pub rs: u64,
    /// absence: newest matching event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ls: Option<i64>,
    /// absence: whether the next silence fires.
    #[serde(default)]
    pub ar: bool,
    /// absence: dedup state of its single key, as in [`KeyRecord`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lf: Option<i64>,
    #[serde(default)]
    pub sp: u64,
}

/// The state of one tracked key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key itself (the store key only has its hash).
    pub k: String,
    /// Counting rules: the series' newest slot, window and baseline counters.
    #[serde(default)]
    pub h: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub f: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub c: Vec<u32>,
    /// When this key last alerted (dedup), and the triggers suppressed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lf: Option<i64>,
    #[serde(default)]
    pub sp: u64,
    /// new_pattern: when the pattern was last seen (for eviction).
    #[serde(default)]
    pub ls: i64,
}

/// A [`KeyRecord`] of a counting rule, borrowed: what is written after every call that touched
/// the key, so it copies nothing before serialising.
#[derive(Debug, Serialize)]
pub struct SeriesRecord<'a> {
    pub k: &'a str,
    pub h: i64,
    pub f: &'a [u32],
    pub c: &'a [u32],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lf: Option<i64>,
    pub sp: u64,
}

/// Serialises a record; plain numbers and strings in memory cannot fail to serialise.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    // Writing into a `Vec` cannot fail, nor can serialising plain numbers and strings.
    let _ = serde_json::to_writer(&mut out, record);
    out
}

/// Reads a meta record; the error says what is wrong, for the log.
pub fn decode_meta(bytes: &[u8]) -> Result<MetaRecord, String> {
    let record: MetaRecord = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if record.v != VERSION {
        return Err(format!("unknown format version {}", record.v));
    }
    Ok(record)
}

/// Reads a key record.
pub fn decode_key(bytes: &[u8]) -> Result<KeyRecord, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// A meta record of the current version.
pub fn new_meta() -> MetaRecord {
    MetaRecord { v: VERSION, ..MetaRecord::default() }
}

#[cfg(test)]
mod tests {
    use super::{KeyRecord, decode_key, decode_meta, encode, entry_key, new_meta};

    #[test]
    fn records_round_trip() {
        let meta = super::MetaRecord { st: Some(5), ar: true, ..new_meta() };
        assert_eq!(decode_meta(&encode(&meta)), Ok(meta));
        let key = KeyRecord { k: "payments".into(), h: 9, f: vec![1, 2], lf: Some(3), ..KeyRecord::default() };
        let bytes = encode(&key);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"k":"payments","h":9,"f":[1,2],"lf":3,"sp":0,"ls":0}"#
        );
        assert_eq!(decode_key(&bytes), Ok(key));
        let borrowed = super::SeriesRecord { k: "p", h: 1, f: &[3], c: &[], lf: None, sp: 2 };
        let back = decode_key(&encode(&borrowed)).unwrap();
        assert_eq!((back.k.as_str(), back.h, back.f, back.c, back.lf, back.sp), ("p", 1, vec![3], vec![], None, 2));
        assert!(decode_meta(br#"{"v":2}"#).is_err());
        assert!(decode_key(b"[").is_err());
        assert_eq!(entry_key("a/r/00/", "x"), "a/r/00/k/af63f54c86021707");
    }
}
