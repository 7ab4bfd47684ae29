//! How patterns are written to, and read back from, the host store.
//!
//! Each pattern is one key, `p/<id>`, so a batch rewrites only the patterns it changed. The value
//! is a small JSON object with one-letter keys: compact, yet readable when inspecting the store,
//! and extensible through the version field:
//!
//! | key | meaning |
//! | --- | --- |
//! | `v` | format version: 2 (1, written before merges existed, is still read) |
//! | `s` | creation sequence number (rebuild order) |
//! | `t` | template tokens, `<*>` for wildcards |
//! | `g` | indices of tokens glued to the previous one (omitted when none) |
//! | `c` | number of messages seen |
//! | `f`, `l` | first and last seen, event time in Unix nanoseconds |
//! | `x` | sample messages (omitted when none) |
//! | `a` | `true` for the catch-all pattern (omitted otherwise) |
//! | `m` | id of the pattern this one was merged into (omitted while it is live) |
//!
//! Version 1 also held `r`, a route in the parse tree of the earlier Drain miner; it is ignored.
//! A merged pattern keeps its key, so its id keeps resolving to the survivor after a restart.

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::intern::Interner;

/// Prefix of every pattern key.
pub const PREFIX: &str = "p/";

const VERSION: u32 = 2;

/// Oldest format version still read.
const OLDEST_VERSION: u32 = 1;

/// The store key of the pattern `id`.
pub fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// The pattern id in a store key, if it is one of ours.
pub fn id_from_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix(PREFIX)?;
    let well_formed = id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    well_formed.then_some(id)
}

#[derive(Serialize)]
struct RecordOut<'a> {
    v: u32,
    s: u64,
    t: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    g: Vec<usize>,
    c: u64,
    f: i64,
    l: i64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    x: &'a [String],
    #[serde(skip_serializing_if = "is_false")]
    a: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    m: Option<&'a str>,
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's signature")]
fn is_false(b: &bool) -> bool {
    !*b
}

/// A pattern as read from the store, before it is put back into a miner.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Stored {
    #[serde(rename = "v")]
    pub version: u32,
    #[serde(rename = "s")]
    pub seq: u64,
    #[serde(rename = "t")]
    pub tokens: Vec<String>,
    #[serde(rename = "g", default)]
    pub glued: Vec<usize>,
    #[serde(rename = "c")]
    pub count: u64,
    #[serde(rename = "f")]
    pub first_seen_ns: i64,
    #[serde(rename = "l")]
    pub last_seen_ns: i64,
    #[serde(rename = "x", default)]
    pub samples: Vec<String>,
    #[serde(rename = "a", default)]
    pub catch_all: bool,
    #[serde(rename = "m", default)]
    pub merged_into: Option<String>,
}

/// Serialises `cluster`, merged into the pattern `merged_into` if any, for the store.
pub fn encode(cluster: &Cluster, merged_into: Option<&str>, interner: &Interner) -> Vec<u8> {
    let record = RecordOut {
        v: VERSION,
        s: cluster.seq,
        t: cluster.tokens.iter().map(|&t| interner.text(t)).collect(),
        g: cluster.glued.iter().enumerate().filter(|(_, g)| **g).map(|(i, _)| i).collect(),
        c: cluster.count,
        f: cluster.first_seen_ns,
        l: cluster.last_seen_ns,
        x: &cluster.samples,
        a: cluster.catch_all,
        m: merged_into,
    };
    // Serialising plain strings and integers into memory cannot fail.
    serde_json::to_vec(&record).unwrap_or_default()
}

/// Reads a stored pattern; the error says what is wrong, for the log.
pub fn decode(bytes: &[u8]) -> Result<Stored, String> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if !(OLDEST_VERSION..=VERSION).contains(&stored.version) {
        return Err(format!("unknown format version {}", stored.version));
    }
    if stored.glued.iter().any(|&i| i >= stored.tokens.len()) {
        return Err("glued index out of range".into());
    }
    if stored.merged_into.as_deref().is_some_and(|m| id_from_key(&key(m)).is_none()) {
        return Err("merged into a malformed id".into());
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, id_from_key, key};
    use crate::cluster::Cluster;
    use crate::intern::Interner;
    use crate::tokenize::tokenize;

    #[test]
    fn round_trip() {
        let mut interner = Interner::default();
        let (mut tokens, mut scratch) = (Vec::new(), String::new());
        tokenize("login user=bob from 10.0.0.1", &mut interner, &mut tokens, &mut scratch);
        let mut cluster = Cluster::new("00112233445566ff".into(), 7, &tokens, &interner);
        cluster.record("login user=bob from 10.0.0.1", 5, 3);
        let bytes = encode(&cluster, None, &interner);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""t":["login","user=","bob","from","<*>"]"#), "{text}");
        let stored = decode(&bytes).unwrap();
        assert_eq!(stored.seq, 7);
        assert_eq!(stored.glued, [2]);
        assert_eq!((stored.count, stored.first_seen_ns, stored.last_seen_ns), (1, 5, 5));
        assert_eq!(stored.samples, ["login user=bob from 10.0.0.1"]);
        assert!(!stored.catch_all);
        assert_eq!(stored.merged_into, None);
        assert!(!text.contains(r#""m""#), "{text}");
        let merged = decode(&encode(&cluster, Some("aabbccddeeff0011"), &interner)).unwrap();
        assert_eq!(merged.merged_into.as_deref(), Some("aabbccddeeff0011"));
    }

    #[test]
    fn version_1_records_still_load() {
        let old = br#"{"v":1,"s":3,"t":["login","<*>"],"r":["login","<*>"],"c":4,"f":1,"l":2}"#;
        let stored = decode(old).unwrap();
        assert_eq!((stored.seq, stored.tokens.len(), stored.count, stored.merged_into), (3, 2, 4, None));
    }

    #[test]
    fn bad_records_are_errors() {
        assert!(decode(b"").is_err());
        assert!(decode(b"{}").is_err());
        assert!(decode(br#"{"v":3,"s":0,"t":[],"c":0,"f":0,"l":0}"#).is_err());
        assert!(decode(br#"{"v":2,"s":0,"t":[],"c":0,"f":0,"l":0,"m":"XYZ"}"#).is_err());
        assert!(decode(br#"{"v":1,"s":0,"t":["a"],"g":[1],"r":[],"c":0,"f":0,"l":0}"#).is_err());
        assert!(decode(br#"{"v":1,"s":0,"t":["a"],"g":[0],"r":[],"c":0,"f":0,"l":0}"#).is_ok());
    }

    #[test]
    fn keys() {
        assert_eq!(key("00112233445566ff"), "p/00112233445566ff");
        assert_eq!(id_from_key("p/00112233445566ff"), Some("00112233445566ff"));
        assert_eq!(id_from_key("p/00112233445566FF"), None);
        assert_eq!(id_from_key("p/short"), None);
        assert_eq!(id_from_key("q/00112233445566ff"), None);
    }
}
