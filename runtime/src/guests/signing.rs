//! Detached ed25519 signatures over guest components.
//!
//! This module owns the signature formats, the set of trusted public keys, verification, and the
//! signing side the CLI uses (key generation, signing). A signature covers a component's exact
//! bytes, as uploaded: nothing is normalised or re-encoded before checking.
//!
//! Formats, all base64 with the standard alphabet (padding optional when reading, always written):
//! - a **public key** is its 32 raw bytes;
//! - a **trusted keys file** holds one public key a line; blank lines and lines starting with `#`
//!   are ignored;
//! - a **secret key file** holds the 32-byte seed;
//! - a **signature** is the 64 raw signature bytes, sent in the [`SIGNATURE_HEADER`] of an upload.
//!
//! The contract with callers: an uploaded component must pass [`TrustedKeys::verify`] before
//! anything compiles, caches, stores or runs it. This module never sees a component except as
//! bytes and never does any of that itself; the upload handler owns the ordering. Nor does it
//! ever log secret key material: errors about a secret key describe its shape only.

use std::fmt;

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The upload header carrying a component's signature (header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-sluice-signature";

/// Standard alphabet; writes padding, and reads text with or without it, because keys pasted into
/// environment variables and shell scripts often lose their trailing `=`.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Public keys an uploaded component may be signed with. Empty means uploads need no signature.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

#[derive(Debug, Clone)]
struct TrustedKey {
    key: VerifyingKey,
    id: KeyId,
}

/// A short, stable name for a public key: the first 16 hex digits of the SHA-256 of its 32 bytes.
/// Safe to log and to show to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// The id of the public key with these bytes.
    pub fn of(public_key: &[u8; 32]) -> KeyId {
        let digest = Sha256::digest(public_key);
        let mut id = [0; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// Why a piece of base64 text is not the key or signature it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("decodes to {actual} bytes, expected {expected}")]
    Length { expected: usize, actual: usize },
    #[error("32 bytes, but not a valid ed25519 public key")]
    NotAPublicKey,
}

/// Why a list of trusted keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyListError {
    /// A non-blank, non-comment line of a key file is not a public key.
    #[error("{origin}:{line}: {problem}")]
    Line { origin: String, line: usize, problem: FormatError },
    /// An entry of a comma-separated key list (counted from 1) is not a public key.
    #[error("entry {entry}: {problem}")]
    Entry { entry: usize, problem: FormatError },
    /// A key file holds only blanks and comments. Refused rather than read as "no signatures
    /// needed", which is surely not what whoever named the file meant.
    #[error("{origin}: no keys (expected one base64 ed25519 public key a line)")]
    Empty { origin: String },
}

/// Why an upload's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("this server only accepts signed components; send the signature in the X-Sluice-Signature header")]
    Missing,
    #[error("the X-Sluice-Signature header is malformed: {0}")]
    Malformed(FormatError),
    #[error("the signature does not verify with any trusted key (signed with another key, or the bytes changed)")]
    Untrusted,
}

/// Why a key could not be made or used for signing.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The secret key text is not the base64 of a 32-byte seed.
    #[error("the secret key is malformed: {0}")]
    Secret(FormatError),
    #[error("the operating system's random source failed: {0}")]
    Random(getrandom::Error),
}

impl TrustedKeys {
    /// Reads a key file: one base64 public key a line; blank lines and `#` comments are skipped.
    /// `origin` (usually the file's path) names the source in errors, with the line number.
    pub fn parse(text: &str, origin: &str) -> Result<TrustedKeys, KeyListError> {
        let mut trusted = TrustedKeys::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = decode_public_key(line).map_err(|problem| KeyListError::Line {
                origin: origin.to_owned(),
                line: index + 1,
                problem,
            })?;
            trusted.insert(key);
        }
        if trusted.keys.is_empty() {
            return Err(KeyListError::Empty { origin: origin.to_owned() });
        }
        Ok(trusted)
    }

    /// Reads a comma-separated list of base64 public keys, as given in an environment variable.
    /// Empty entries are skipped, so a blank list means no keys.
    pub fn from_env_list(list: &str) -> Result<TrustedKeys, KeyListError> {
        let mut trusted = TrustedKeys::default();
        for (index, entry) in list.split(',').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let key = decode_public_key(entry).map_err(|problem| KeyListError::Entry { entry: index + 1, problem })?;
            trusted.insert(key);
        }
        Ok(trusted)
    }

    /// Whether uploads must be signed.
    pub fn required(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The ids of the trusted keys, in the order they were given.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().map(|trusted| trusted.id)
    }

    /// Checks `signature` (base64, from the upload header) over `bytes`.
    ///
    /// With no trusted keys, uploads need no signature: `Ok(None)`, and a signature that was sent
    /// anyway is not looked at. Otherwise the answer is the id of the key that signed `bytes`.
    pub fn verify(&self, bytes: &[u8], signature: Option<&str>) -> Result<Option<KeyId>, SignatureError> {
        if !self.required() {
            return Ok(None);
        }
        let text = signature.map(str::trim).filter(|text| !text.is_empty()).ok_or(SignatureError::Missing)?;
        let raw = decode_exact::<64>(text).map_err(SignatureError::Malformed)?;
        let signature = Signature::from_bytes(&raw);
        // Strict verification refuses weak public keys and non-canonical signatures, so a
        // signature cannot be massaged into another valid one for the same bytes.
        self.keys
            .iter()
            .find(|trusted| trusted.key.verify_strict(bytes, &signature).is_ok())
            .map(|trusted| Some(trusted.id))
            .ok_or(SignatureError::Untrusted)
    }

    fn insert(&mut self, key: VerifyingKey) {
        if self.keys.iter().all(|trusted| trusted.key != key) {
            self.keys.push(TrustedKey { id: KeyId::of(key.as_bytes()), key });
        }
    }
}

/// Makes a fresh key pair from the operating system's random source: `(secret, public)`, both
/// base64 in the formats above. The caller writes the secret somewhere only its owner can read.
pub fn generate_keypair() -> Result<(String, String), SigningError> {
    let mut seed = [0u8; 32];
    let filled = getrandom::fill(&mut seed).map_err(SigningError::Random);
    let key = filled.map(|()| SigningKey::from_bytes(&seed));
    wipe(&mut seed);
    let key = key?;
    Ok((BASE64.encode(key.as_bytes()), BASE64.encode(key.verifying_key().as_bytes())))
}

/// The public key (base64) belonging to a secret key (base64 seed, surrounding whitespace
/// ignored), to put in a server's trusted keys.
pub fn public_key_of(secret: &str) -> Result<String, SigningError> {
    let key = signing_key(secret)?;
    Ok(BASE64.encode(key.verifying_key().as_bytes()))
}

/// Signs `bytes` (a component, exactly as it will be uploaded) with a secret key (base64 seed);
/// the answer is the base64 signature for the [`SIGNATURE_HEADER`].
pub fn sign(secret: &str, bytes: &[u8]) -> Result<String, SigningError> {
    let key = signing_key(secret)?;
    Ok(BASE64.encode(key.sign(bytes).to_bytes()))
}

/// Decodes a secret key. The `SigningKey` zeroizes itself on drop; the decoded seed is wiped here.
fn signing_key(secret: &str) -> Result<SigningKey, SigningError> {
    let mut seed = decode_exact::<32>(secret.trim()).map_err(SigningError::Secret)?;
    let key = SigningKey::from_bytes(&seed);
    wipe(&mut seed);
    Ok(key)
}

fn decode_public_key(text: &str) -> Result<VerifyingKey, FormatError> {
    let raw = decode_exact::<32>(text)?;
    VerifyingKey::from_bytes(&raw).map_err(|_| FormatError::NotAPublicKey)
}

/// Decodes base64 that must come to exactly `N` bytes. The intermediate buffer is wiped, since it
/// may hold a secret seed.
fn decode_exact<const N: usize>(text: &str) -> Result<[u8; N], FormatError> {
    let mut raw = BASE64.decode(text)?;
    let exact = <[u8; N]>::try_from(raw.as_slice()).map_err(|_| FormatError::Length { expected: N, actual: raw.len() });
    wipe(&mut raw);
    exact
}

/// Best-effort erasure of a copy of secret bytes: `black_box` keeps the optimiser from dropping
/// the stores as dead. (The crate has no `zeroize` dependency of its own; `SigningKey` itself is
/// zeroized by ed25519-dalek.)
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENT: &[u8] = b"\0asm not really a component, but signatures do not care";

    fn keypair() -> (String, String) {
        generate_keypair().expect("the OS random source works in tests")
    }

    fn trusting(public: &str) -> TrustedKeys {
        TrustedKeys::from_env_list(public).expect("a generated public key parses")
    }

    #[test]
    fn a_signature_made_with_a_trusted_key_verifies_and_names_the_key() {
        let (secret, public) = keypair();
        assert_eq!(public_key_of(&format!("{secret}\n")).expect("secret parses"), public);
        let signature = sign(&secret, COMPONENT).expect("signs");
        let trusted = trusting(&public);
        let id = trusted.verify(COMPONENT, Some(&signature)).expect("verifies").expect("keys are configured");
        let raw: [u8; 32] = BASE64.decode(&public).expect("base64").try_into().expect("32 bytes");
        assert_eq!(id, KeyId::of(&raw));
        assert_eq!(id.to_string().len(), 16);
        assert!(id.to_string().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(trusted.ids().collect::<Vec<_>>(), vec![id]);
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        let (secret, public) = keypair();
        let signature = sign(secret.trim_end_matches('='), COMPONENT).expect("signs");
        let trusted = trusting(public.trim_end_matches('='));
        assert!(trusted.verify(COMPONENT, Some(signature.trim_end_matches('='))).expect("verifies").is_some());
    }

    #[test]
    fn changed_bytes_are_untrusted() {
        let (secret, public) = keypair();
        let signature = sign(&secret, COMPONENT).expect("signs");
        let mut tampered = COMPONENT.to_vec();
        tampered[10] ^= 1;
        assert_eq!(trusting(&public).verify(&tampered, Some(&signature)), Err(SignatureError::Untrusted));
    }

    #[test]
    fn a_signature_by_another_key_is_untrusted() {
        let (secret, _) = keypair();
        let (_, other_public) = keypair();
        let signature = sign(&secret, COMPONENT).expect("signs");
        assert_eq!(trusting(&other_public).verify(COMPONENT, Some(&signature)), Err(SignatureError::Untrusted));
    }

    #[test]
    fn any_of_several_trusted_keys_will_do() {
        let (_, first) = keypair();
        let (secret, second) = keypair();
        let trusted = trusting(&format!("{first}, {second},"));
        let signature = sign(&secret, COMPONENT).expect("signs");
        let id = trusted.verify(COMPONENT, Some(&signature)).expect("verifies");
        assert_eq!(id, trusted.ids().nth(1));
    }

    #[test]
    fn a_missing_signature_is_refused_only_when_keys_are_configured() {
        let (_, public) = keypair();
        assert_eq!(trusting(&public).verify(COMPONENT, None), Err(SignatureError::Missing));
        assert_eq!(trusting(&public).verify(COMPONENT, Some("  ")), Err(SignatureError::Missing));
        let open = TrustedKeys::default();
        assert!(!open.required());
        assert_eq!(open.verify(COMPONENT, None), Ok(None));
        assert_eq!(open.verify(COMPONENT, Some("garbage")), Ok(None), "signatures are ignored without keys");
    }

    #[test]
    fn garbage_signatures_are_malformed() {
        let (_, public) = keypair();
        let trusted = trusting(&public);
        let not_base64 = trusted.verify(COMPONENT, Some("not base64!"));
        assert!(matches!(not_base64, Err(SignatureError::Malformed(FormatError::Base64(_)))), "{not_base64:?}");
        let short = trusted.verify(COMPONENT, Some(&BASE64.encode([7u8; 63])));
        assert_eq!(short, Err(SignatureError::Malformed(FormatError::Length { expected: 64, actual: 63 })));
    }

    #[test]
    fn key_files_allow_comments_and_blank_lines() {
        let (_, first) = keypair();
        let (_, second) = keypair();
        let text = format!("# release keys\n\n{first}\n   # the backup key\n  {second}  \n\n{first}\n");
        let trusted = TrustedKeys::parse(&text, "keys.txt").expect("parses");
        assert!(trusted.required());
        assert_eq!(trusted.ids().count(), 2, "the repeated key is counted once");
    }

    #[test]
    fn a_bad_key_line_is_reported_with_origin_and_line_number() {
        let (_, public) = keypair();
        let text = format!("# keys\n{public}\n\nbm90IGEga2V5\n");
        let error = TrustedKeys::parse(&text, "keys.txt").expect_err("line 4 is 9 bytes, not a key");
        assert!(matches!(error, KeyListError::Line { line: 4, .. }), "{error:?}");
        assert_eq!(error.to_string(), "keys.txt:4: decodes to 9 bytes, expected 32");
    }

    #[test]
    fn a_key_file_without_keys_is_refused() {
        let error = TrustedKeys::parse("# nothing yet\n\n", "keys.txt").expect_err("no keys");
        assert!(matches!(error, KeyListError::Empty { .. }), "{error:?}");
    }

    #[test]
    fn a_bad_list_entry_is_reported_by_position() {
        let (_, public) = keypair();
        let error = TrustedKeys::from_env_list(&format!("{public},%%%")).expect_err("entry 2 is not base64");
        assert!(matches!(error, KeyListError::Entry { entry: 2, problem: FormatError::Base64(_) }), "{error:?}");
        assert!(!TrustedKeys::from_env_list(" , ").expect("blank entries are skipped").required());
    }

    #[test]
    fn malformed_secrets_are_refused_without_echoing_them() {
        let secret = BASE64.encode([42u8; 31]);
        let error = sign(&secret, COMPONENT).expect_err("31 bytes is not a seed");
        assert!(!error.to_string().contains(&secret), "{error}");
        assert!(matches!(public_key_of("!!"), Err(SigningError::Secret(FormatError::Base64(_)))));
    }
}
