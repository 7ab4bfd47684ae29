//! Where the miner looks for the patterns a message may belong to.
//!
//! Patterns are only ever compared with messages of their own token count. Within a length they
//! are grouped by their first plain word (a constant without digits) among the first
//! [`KEY_POSITIONS`] tokens, with its position: a message can only fit a pattern if it holds that
//! word there. Patterns without one share a group. A message is compared with the groups of its
//! own leading words and the shared one, so lines that start with a variable (an address, a
//! time) do not all land in one long list. An exact-sequence cache in front answers repeated
//! messages with one hash lookup, which is what keeps the hot path fast.

use std::collections::HashMap;

use crate::intern::{FastHash, TokenId, UNKNOWN, WILDCARD};
use crate::siblings::Siblings;
use crate::tokenize::Token;

/// Leading positions whose plain words key the groups.
pub const KEY_POSITIONS: usize = 3;

/// The position of the shared group's key.
const NO_KEY: usize = usize::MAX;

/// Most entries of the exact-sequence cache; it starts over when full, so memory stays bounded
/// however many distinct messages arrive.
const EXACT_CAPACITY: usize = 1 << 16;

/// The lookup structures over the live clusters (referred to by their index in the miner).
#[derive(Debug, Default)]
pub struct Index {
    /// Live clusters by (token count, position, plain word), in creation order.
    groups: HashMap<(usize, usize, TokenId), Vec<u32>, FastHash>,
    /// Live clusters by token count, in creation order.
    by_length: HashMap<usize, Vec<u32>, FastHash>,
    /// Hash of a message's token ids → the cluster it fitted exactly.
    exact: HashMap<u64, u32, FastHash>,
    /// Every template ever indexed, by signature, to find a pattern's siblings.
    pub siblings: Siblings,
}

impl Index {
    /// Adds a live cluster with template `tokens`.
    pub fn insert(&mut self, cluster: u32, tokens: &[TokenId], digits: &[bool]) {
        insert_sorted(self.groups.entry(group_key(tokens, digits)).or_default(), cluster);
        insert_sorted(self.by_length.entry(tokens.len()).or_default(), cluster);
        self.siblings.insert(cluster, tokens, digits);
    }

    /// Removes a cluster indexed with template `tokens` (before its template changes, or once it
    /// has been merged away).
    pub fn remove(&mut self, cluster: u32, tokens: &[TokenId], digits: &[bool]) {
        if let Some(list) = self.groups.get_mut(&group_key(tokens, digits)) {
            list.retain(|&c| c != cluster);
        }
        if let Some(list) = self.by_length.get_mut(&tokens.len()) {
            list.retain(|&c| c != cluster);
        }
    }

    /// The clusters a message may fit: the groups of its leading words in order, then the
    /// shared group.
    #[inline]
    pub fn candidates<'a>(&'a self, message: &'a [Token]) -> impl Iterator<Item = u32> + 'a {
        let len = message.len();
        let group = move |key| self.groups.get(&key).map_or(&[][..], Vec::as_slice);
        let own = message
            .iter()
            .take(KEY_POSITIONS)
            .enumerate()
            .filter(|(_, t)| is_plain(t))
            .map(move |(i, t)| group((len, i, t.id)));
        own.chain(std::iter::once(group((len, NO_KEY, WILDCARD)))).flatten().copied()
    }

    /// Every live cluster of `len` tokens, in creation order.
    pub fn of_length(&self, len: usize) -> &[u32] {
        self.by_length.get(&len).map_or(&[], Vec::as_slice)
    }

    /// The cluster `message` fitted exactly when last seen, if the cache knows it.
    #[inline]
    pub fn exact(&self, hash: u64) -> Option<u32> {
        self.exact.get(&hash).copied()
    }

    /// Remembers that the message with `hash` fits `cluster` exactly.
    pub fn remember(&mut self, hash: u64, cluster: u32) {
        if self.exact.len() >= EXACT_CAPACITY {
            self.exact.clear();
        }
        self.exact.insert(hash, cluster);
    }

    /// Forgets every cached answer: called when a template changes, since a message may then
    /// fit a different pattern first.
    pub fn forget(&mut self) {
        self.exact.clear();
    }
}

/// The hash of a message's token ids, or `None` when a word is in no template (such a message
/// cannot be answered from the cache: all unknown words share one id).
#[inline]
pub fn message_hash(message: &[Token]) -> Option<u64> {
    const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut hash = message.len() as u64;
    for token in message {
        if token.id == UNKNOWN {
            return None;
        }
        hash = (hash.rotate_left(5) ^ u64::from(token.id)).wrapping_mul(SEED);
    }
    Some(hash)
}

/// A known word without digits: one a pattern can be keyed by.
#[inline]
fn is_plain(token: &Token) -> bool {
    token.id != WILDCARD && token.id != UNKNOWN && !token.has_digit
}

fn group_key(tokens: &[TokenId], digits: &[bool]) -> (usize, usize, TokenId) {
    let plain = tokens.iter().zip(digits).take(KEY_POSITIONS).position(|(&t, &digit)| t != WILDCARD && !digit);
    match plain.and_then(|i| tokens.get(i).map(|&t| (i, t))) {
        Some((i, t)) => (tokens.len(), i, t),
        None => (tokens.len(), NO_KEY, WILDCARD),
    }
}

fn insert_sorted(list: &mut Vec<u32>, cluster: u32) {
    if let Err(at) = list.binary_search(&cluster) {
        list.insert(at, cluster);
    }
}

#[cfg(test)]
mod tests {
    use super::{Index, message_hash};
    use crate::intern::{Interner, UNKNOWN};
    use crate::tokenize::tokens;

    #[test]
    fn groups_by_length_and_leading_plain_word() {
        let mut interner = Interner::default();
        let a = tokens(&mut interner, "connection opened to db");
        let b = tokens(&mut interner, "job42 opened to db");
        let c = tokens(&mut interner, "connection opened");
        let mut index = Index::default();
        let ids = |t: &[crate::tokenize::Token]| t.iter().map(|t| t.id).collect::<Vec<_>>();
        let digits = |t: &[crate::tokenize::Token]| t.iter().map(|t| t.has_digit).collect::<Vec<_>>();
        index.insert(0, &ids(&a), &digits(&a));
        index.insert(1, &ids(&b), &digits(&b));
        index.insert(2, &ids(&c), &digits(&c));
        let d = tokens(&mut interner, "10.0.0.1 opened to db");
        index.insert(3, &ids(&d), &digits(&d));
        let candidates = |index: &Index, t| index.candidates(t).collect::<Vec<_>>();
        // `a` may fit 0 (keyed by its first word), and 1 and 3 (keyed by "opened" at 1: their
        // first words are variables).
        assert_eq!(candidates(&index, &a), [0, 1, 3]);
        assert_eq!(candidates(&index, &c), [2]);
        assert_eq!(index.of_length(4), [0, 1, 3]);
        index.remove(0, &ids(&a), &digits(&a));
        assert_eq!(candidates(&index, &a), [1, 3]);
    }

    #[test]
    fn unknown_words_are_not_cached() {
        let mut interner = Interner::default();
        let mut t = tokens(&mut interner, "a b");
        assert!(message_hash(&t).is_some());
        t[1].id = UNKNOWN;
        assert_eq!(message_hash(&t), None);
    }
}
