//! Finding the patterns that differ from a given one at a single position, without a scan.
//!
//! Merging needs, for a pattern, every live pattern of its length that is identical except at
//! one position. Comparing with every pattern of that length costs a pass over thousands of them
//! per new pattern once a log has many; instead each pattern is filed under one signature per
//! position: its tokens with a hole there. Two siblings at position `p` share the signature with
//! the hole at `p`. Constants with digits are filed as one mark, since two different digit words
//! agree (see `Fit::Generalising`).
//!
//! Entries are never removed: when a pattern is merged away or its template changes, its old
//! entries stay, and readers check each candidate against its current template. The stale
//! entries are bounded by the number of template changes, which is itself bounded (each change
//! adds a wildcard).

use std::collections::HashMap;

use crate::intern::{FastHash, TokenId, WILDCARD};

/// Positions filed per pattern: differences further into a long message are not looked for.
pub const MAX_POSITIONS: usize = 32;

/// Stands for any constant with digits in a signature; interned ids stay far below it.
const DIGIT_MARK: TokenId = TokenId::MAX - 1;

/// Stands for the hole.
const HOLE: TokenId = TokenId::MAX - 2;

/// End of a chain of entries.
const END: u32 = u32::MAX;

/// The signature file: a chain of clusters per signature.
#[derive(Debug, Default)]
pub struct Siblings {
    /// Signature → its latest entry.
    heads: HashMap<u64, u32, FastHash>,
    /// (cluster, previous entry with the same signature).
    entries: Vec<(u32, u32)>,
}

impl Siblings {
    /// Files `cluster` with template `tokens` under each of its signatures.
    pub fn insert(&mut self, cluster: u32, tokens: &[TokenId], digits: &[bool]) {
        for hole in holes(tokens) {
            let key = signature(tokens, digits, hole);
            let previous = self.heads.get(&key).copied().unwrap_or(END);
            let entry = u32::try_from(self.entries.len()).unwrap_or(END);
            self.entries.push((cluster, previous));
            self.heads.insert(key, entry);
        }
    }

    /// The clusters filed with the same signature as `tokens` with a hole at `hole`, latest
    /// first; possibly stale or colliding, so to be checked by the caller.
    pub fn candidates<'a>(
        &'a self,
        tokens: &[TokenId],
        digits: &[bool],
        hole: usize,
    ) -> impl Iterator<Item = u32> + 'a {
        let mut next = self.heads.get(&signature(tokens, digits, hole)).copied().unwrap_or(END);
        std::iter::from_fn(move || {
            let &(cluster, previous) = self.entries.get(usize::try_from(next).ok()?)?;
            next = previous;
            Some(cluster)
        })
    }
}

/// The positions a template is filed under: its constants, among the first [`MAX_POSITIONS`].
pub fn holes(tokens: &[TokenId]) -> impl Iterator<Item = usize> + '_ {
    tokens.iter().take(MAX_POSITIONS).enumerate().filter(|&(_, &t)| t != WILDCARD).map(|(i, _)| i)
}

fn signature(tokens: &[TokenId], digits: &[bool], hole: usize) -> u64 {
    const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut hash = (tokens.len() as u64).wrapping_mul(SEED);
    for (i, (&t, &digit)) in tokens.iter().zip(digits).enumerate() {
        let key = if i == hole {
            HOLE
        } else if digit && t != WILDCARD {
            DIGIT_MARK
        } else {
            t
        };
        hash = (hash.rotate_left(5) ^ u64::from(key)).wrapping_mul(SEED);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::Siblings;

    #[test]
    fn siblings_share_the_signature_with_the_hole_where_they_differ() {
        let mut siblings = Siblings::default();
        let no_digits = [false; 4];
        siblings.insert(0, &[1, 2, 3, 4], &no_digits);
        siblings.insert(1, &[1, 9, 3, 4], &no_digits);
        siblings.insert(2, &[1, 9, 3, 8], &no_digits);
        let at_1: Vec<u32> = siblings.candidates(&[1, 7, 3, 4], &no_digits, 1).collect();
        assert_eq!(at_1, [1, 0]);
        let at_3: Vec<u32> = siblings.candidates(&[1, 9, 3, 7], &no_digits, 3).collect();
        assert_eq!(at_3, [2, 1]);
        // Different digit words file alike.
        siblings.insert(3, &[5, 6, 7], &[true, false, false]);
        assert_eq!(siblings.candidates(&[10, 6, 11], &[true, false, false], 2).collect::<Vec<_>>(), [3]);
    }
}
