//! Splitting a message into the tokens Drain compares.
//!
//! Tokens are whitespace-separated words, with two refinements. A `key=value` word is split into
//! `key=` and a value glued to it, so the value can vary while the key stays part of the template.
//! And a word that is an obvious variable (see [`mask`](crate::mask)) becomes the wildcard, keeping
//! surrounding punctuation: `(10.0.0.1:80),` becomes `(<*>),`.

use crate::intern::{Interner, TokenId, WILDCARD, WILDCARD_TEXT};
use crate::mask;

/// Most tokens a template holds. Longer messages keep their first tokens and end in one wildcard
/// for the rest, so a pathological line cannot make a pathological pattern.
pub const MAX_TOKENS: usize = 128;

/// Longest word kept as text. Longer ones (encoded blobs, minified payloads) are variable data in
/// practice, and keeping them would let a few odd lines make patterns of unbounded size.
pub const MAX_TOKEN_BYTES: usize = 128;

/// A message token, resolved against the interner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    /// Written directly after the previous token, without a space (the value of `key=value`).
    pub glued: bool,
    /// Contains a decimal digit; Drain routes such tokens to the wildcard branch of the tree.
    pub has_digit: bool,
}

/// One token of a message, before interning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// A masked variable with punctuation around it.
    Masked { prefix: &'a str, suffix: &'a str },
}

/// How token texts become ids: looked up only (the hot path), or interned (a new pattern).
pub trait Resolve {
    fn resolve(&mut self, text: &str) -> TokenId;
}

impl Resolve for &Interner {
    #[inline]
    fn resolve(&mut self, text: &str) -> TokenId {
        self.get(text)
    }
}

impl Resolve for &mut Interner {
    fn resolve(&mut self, text: &str) -> TokenId {
        self.intern(text)
    }
}

/// Tokenizes `message` into `out` (cleared first). `scratch` is a reusable buffer for building
/// masked tokens with punctuation, so the hot path allocates nothing once warmed up.
pub fn tokenize(message: &str, mut ids: impl Resolve, out: &mut Vec<Token>, scratch: &mut String) {
    out.clear();
    for word in message.split_ascii_whitespace() {
        if out.len() >= MAX_TOKENS - 1 {
            out.push(Token { id: WILDCARD, glued: false, has_digit: false });
            return;
        }
        if word.len() > MAX_TOKEN_BYTES {
            out.push(Token { id: WILDCARD, glued: false, has_digit: false });
            continue;
        }
        let (key, value) = split_pair(word);
        if let Some(key) = key {
            out.push(Token { id: ids.resolve(key), glued: false, has_digit: has_digit(key) });
        }
        let id = match classify(value) {
            Piece::Masked { prefix: "", suffix: "" } => WILDCARD,
            Piece::Masked { prefix, suffix } => {
                scratch.clear();
                scratch.push_str(prefix);
                scratch.push_str(WILDCARD_TEXT);
                scratch.push_str(suffix);
                ids.resolve(scratch)
            }
            Piece::Text(text) => ids.resolve(text),
        };
        let has_digit = id != WILDCARD && has_digit(value);
        out.push(Token { id, glued: key.is_some(), has_digit });
    }
}

/// Splits `key=value` into `Some("key=")` and `value`, when the key is an identifier and the value
/// is not empty; otherwise returns the word whole.
fn split_pair(word: &str) -> (Option<&str>, &str) {
    let Some(eq) = word.find('=') else {
        return (None, word);
    };
    let (Some(key), Some(value)) = (word.get(..eq), word.get(eq + 1..)) else {
        return (None, word);
    };
    let identifier = key.len() <= 64
        && key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if identifier && !value.is_empty() { (word.get(..=eq), value) } else { (None, word) }
}

/// Whether `word` is a variable, looking through the punctuation around it.
fn classify(word: &str) -> Piece<'_> {
    if word == WILDCARD_TEXT {
        return Piece::Masked { prefix: "", suffix: "" };
    }
    let core_start = word.find(|c: char| !matches!(c, '(' | '[' | '{' | '<' | '"' | '\''));
    let Some(core_start) = core_start else {
        return Piece::Text(word);
    };
    let core_end = word
        .rfind(|c: char| !matches!(c, ')' | ']' | '}' | '>' | '"' | '\'' | ',' | ';' | ':' | '.' | '!' | '?'))
        .map_or(core_start, |i| i + 1);
    match (word.get(..core_start), word.get(core_start..core_end), word.get(core_end..)) {
        (Some(prefix), Some(core), Some(suffix)) if mask::is_variable(core) => Piece::Masked { prefix, suffix },
        _ => Piece::Text(word),
    }
}

#[inline]
fn has_digit(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_digit())
}

/// The token texts of `message`, for tests and debugging.
#[cfg(test)]
pub fn texts(message: &str) -> Vec<String> {
    let mut interner = Interner::default();
    let (mut out, mut scratch) = (Vec::new(), String::new());
    tokenize(message, &mut interner, &mut out, &mut scratch);
    out.iter().map(|t| format!("{}{}", if t.glued { "+" } else { "" }, interner.text(t.id))).collect()
}

/// Tokenizes a whole message with fresh scratch space (for tests).
#[cfg(test)]
pub fn tokens(interner: &mut Interner, message: &str) -> Vec<Token> {
    let (mut out, mut scratch) = (Vec::new(), String::new());
    tokenize(message, interner, &mut out, &mut scratch);
    out
}

#[cfg(test)]
mod tests {
    use super::{MAX_TOKENS, texts};

    #[test]
    fn words_and_masks() {
        assert_eq!(texts("User 123 logged in"), ["User", "<*>", "logged", "in"]);
        assert_eq!(
            texts("conn from 10.0.0.1:5000 took 12ms (0x1f), id=abc-1"),
            ["conn", "from", "<*>", "took", "<*>", "(<*>),", "id=", "+abc-1"]
        );
        assert_eq!(texts("  spaced\tout\n "), ["spaced", "out"]);
        assert_eq!(texts(""), Vec::<String>::new());
    }

    #[test]
    fn key_value_pairs_split() {
        assert_eq!(texts("user=alice retries=3"), ["user=", "+alice", "retries=", "+<*>"]);
        assert_eq!(texts("a= =b x==y 1=2"), ["a=", "=b", "x=", "+=y", "1=2"]);
        assert_eq!(texts("path=/srv/data/x"), ["path=", "+<*>"]);
    }

    #[test]
    fn punctuation_only_and_literal_wildcards() {
        assert_eq!(texts("<*> ... \"\" (<*>)"), ["<*>", "...", "\"\"", "(<*>)"]);
    }

    #[test]
    fn long_words_are_variable() {
        let blob = "QUJD".repeat(100);
        assert_eq!(texts(&format!("payload {blob} received")), ["payload", "<*>", "received"]);
    }

    #[test]
    fn long_messages_are_capped() {
        let message = "w ".repeat(1000);
        let tokens = texts(&message);
        assert_eq!(tokens.len(), MAX_TOKENS);
        assert_eq!(tokens.last().map(String::as_str), Some("<*>"));
    }
}
