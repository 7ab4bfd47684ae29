//! FNV-1a, 64 bits: alert ids, rule fingerprints and store keys.
//!
//! All three are written to the host store or sent to users, so the function must never change
//! with a dependency upgrade; it is a fixed, published algorithm, eight lines long. None of its
//! uses needs resistance to adversaries: a collision merges two store keys (one group's counts are
//! lost) or, for ids, two alerts share an id.

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running FNV-1a hash.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Fnv {
    pub const fn new() -> Self {
        Self(OFFSET_BASIS)
    }

    /// Adds `bytes`.
    pub fn write(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
        self
    }

    /// Adds a field followed by a separator, so `("ab", "c")` and `("a", "bc")` differ.
    pub fn field(self, bytes: &[u8]) -> Self {
        self.write(bytes).write(&[0xff])
    }

    pub const fn finish(self) -> u64 {
        self.0
    }
}

/// The FNV-1a hash of `text` as 16 lower-case hex digits.
pub fn hex(text: &str) -> String {
    format!("{:016x}", Fnv::new().write(text.as_bytes()).finish())
}

#[cfg(test)]
mod tests {
    use super::{Fnv, hex};

    #[test]
    fn published_test_vectors() {
        assert_eq!(Fnv::new().finish(), 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fnv::new().write(b"a").finish(), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hex("foobar"), "85944171f73967e8");
    }

    #[test]
    fn fields_are_separated() {
        let ab_c = Fnv::new().field(b"ab").field(b"c").finish();
        let a_bc = Fnv::new().field(b"a").field(b"bc").finish();
        assert_ne!(ab_c, a_bc);
    }
}
