//! Encryption of journal records when the store is encrypted, so no part of the data directory
//! holds acknowledged events in plaintext.
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per record: random nonces of that size never
//! collide in practice, whatever happens to offsets across restarts or a wiped journal. The key is
//! derived from the store key with a domain label, so the two are never used for the same thing.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const NONCE: usize = 24;

/// The journal's record cipher.
#[derive(Clone)]
pub struct JournalCipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for JournalCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JournalCipher(..)")
    }
}

impl JournalCipher {
    /// Derives the journal key from the store key.
    pub fn from_store_key(store_key: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"sluice journal v1\0");
        hasher.update(store_key);
        let key: [u8; 32] = hasher.finalize().into();
        JournalCipher { aead: XChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// `nonce || ciphertext || tag`.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        // The OS random source failing is not something a log pipeline can work around; a zero
        // nonce would be unsafe, so refuse loudly.
        getrandom::fill(&mut nonce).expect("the operating system's random source is unavailable");
        let sealed =
            self.aead.encrypt(XNonce::from_slice(&nonce), plaintext).expect("encrypting into a Vec cannot fail");
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a sealed payload; `None` if it was not sealed with this key or was altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE);
        self.aead.decrypt(XNonce::from_slice(nonce), ciphertext).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let cipher = JournalCipher::from_store_key(b"k");
        let sealed = cipher.seal(b"hello journal");
        assert!(!sealed.windows(5).any(|w| w == b"hello"));
        assert_eq!(cipher.open(&sealed).as_deref(), Some(&b"hello journal"[..]));
        assert_eq!(JournalCipher::from_store_key(b"other").open(&sealed), None);
        assert_ne!(cipher.seal(b"x"), cipher.seal(b"x"), "fresh nonce per record");
    }
}
