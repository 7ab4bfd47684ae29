//! Pattern ids: FNV-1a, 64 bits.
//!
//! Ids are stored by the host and shown to users, so the function behind them must never change.
//! It is written out here rather than taken from a crate: eight lines cannot drift with a
//! dependency upgrade, and FNV-1a is a fixed, published algorithm with good dispersion for short
//! strings. It is not collision-proof against adversaries, which ids do not need: a collision only
//! makes the miner pick the next salted id (see `Miner`).

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a of `bytes`, continuing from `state` (start with [`start`]).
pub const fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        state ^= bytes[i] as u64;
        state = state.wrapping_mul(PRIME);
        i += 1;
    }
    state
}

/// The initial state.
pub const fn start() -> u64 {
    OFFSET_BASIS
}

/// The id of a pattern first created with `template`, salted with `salt` (0 for the first try):
/// 16 lower-case hex digits.
pub fn pattern_id(template: &str, salt: u32) -> String {
    let mut state = fnv1a(start(), template.as_bytes());
    if salt > 0 {
        state = fnv1a(state, &[0]);
        state = fnv1a(state, &salt.to_le_bytes());
    }
    format!("{state:016x}")
}

#[cfg(test)]
mod tests {
    use super::{fnv1a, pattern_id, start};

    #[test]
    fn published_test_vectors() {
        assert_eq!(fnv1a(start(), b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(start(), b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(start(), b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn ids_are_16_hex_and_salt_changes_them() {
        let id = pattern_id("User <*> logged in", 0);
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(id, pattern_id("User <*> logged in", 1));
        assert_eq!(id, pattern_id("User <*> logged in", 0));
    }
}
