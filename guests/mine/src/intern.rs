//! Token interning: each distinct template token becomes a small integer.
//!
//! Comparing a message with candidate templates, and walking the parse tree, then compares
//! integers instead of strings. Only tokens that appear in a template are interned (when a pattern
//! is created or loaded); looking up a message token never inserts, so variable values that were
//! not masked (user names, say) do not make the table grow without bound.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An interned token.
pub type TokenId = u32;

/// The `<*>` wildcard: a variable position in a template, or a masked token in a message.
pub const WILDCARD: TokenId = 0;

/// A message token that is in no template, so it can equal no template token.
pub const UNKNOWN: TokenId = TokenId::MAX;

/// The text of [`WILDCARD`].
pub const WILDCARD_TEXT: &str = "<*>";

/// Table of interned tokens.
#[derive(Debug)]
pub struct Interner {
    ids: HashMap<Box<str>, TokenId, FastHash>,
    texts: Vec<Box<str>>,
    /// Per id, whether the text holds a wildcard (a masked value with punctuation, `(<*>),`).
    masked: Vec<bool>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut interner = Self { ids: HashMap::default(), texts: Vec::new(), masked: Vec::new() };
        interner.texts.push(WILDCARD_TEXT.into());
        interner.masked.push(true);
        interner.ids.insert(WILDCARD_TEXT.into(), WILDCARD);
        interner
    }
}

impl Interner {
    /// The id of `text`, or [`UNKNOWN`].
    #[inline]
    pub fn get(&self, text: &str) -> TokenId {
        self.ids.get(text).copied().unwrap_or(UNKNOWN)
    }

    /// The id of `text`, interning it if new.
    pub fn intern(&mut self, text: &str) -> TokenId {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        // Ids stay below UNKNOWN: the interner holds template tokens only, bounded by
        // `max_patterns`, far from four billion.
        let id = TokenId::try_from(self.texts.len()).unwrap_or(UNKNOWN - 1);
        self.texts.push(text.into());
        self.masked.push(text.contains(WILDCARD_TEXT));
        self.ids.insert(text.into(), id);
        id
    }

    /// Whether the token holds a wildcard: it is `<*>`, or a masked value with punctuation.
    #[inline]
    pub fn is_masked(&self, id: TokenId) -> bool {
        usize::try_from(id).ok().and_then(|i| self.masked.get(i)).copied().unwrap_or(false)
    }

    /// The text of an interned token (`<*>` for ids it never gave out).
    pub fn text(&self, id: TokenId) -> &str {
        usize::try_from(id).ok().and_then(|i| self.texts.get(i)).map_or(WILDCARD_TEXT, |t| t)
    }
}

/// Hasher for the interner and the parse tree's child maps.
///
/// The standard SipHash is built to resist collision attacks, and costs several times more per
/// token than this multiply-rotate hash (the one rustc uses internally). The keys here are template
/// tokens, whose number is bounded by `max_patterns`, so crafted collisions can only slow lookups
/// among a bounded set; speed on the hot path matters more.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

/// Builds [`FastHasher`]s.
pub type FastHash = BuildHasherDefault<FastHasher>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word.get_mut(..rest.len()).unwrap_or_default().copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::{Interner, UNKNOWN, WILDCARD};

    #[test]
    fn interns_once_and_looks_up_without_inserting() {
        let mut interner = Interner::default();
        assert_eq!(interner.get("<*>"), WILDCARD);
        assert_eq!(interner.get("user"), UNKNOWN);
        let id = interner.intern("user");
        assert_eq!(interner.intern("user"), id);
        assert_eq!(interner.get("user"), id);
        assert_eq!(interner.text(id), "user");
        assert_eq!(interner.text(UNKNOWN), "<*>");
    }
}
