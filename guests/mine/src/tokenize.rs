//! Splitting a message into the tokens the miner compares.
//!
//! Tokens are whitespace-separated words, with three refinements. A `key=value` (or `key:value`)
//! word is split into `key=` and a value glued to it, so the value can vary while the key stays
//! part of the template. A word that is an obvious variable (see [`mask`](crate::mask)) becomes
//! the wildcard, keeping surrounding punctuation: `(10.0.0.1:80),` becomes `(<*>),`. And a number
//! glued to a word by a separator is masked alone: `core.1234` becomes `core.<*>`. Each token
//! remembers where it lies in the message, so the values at a template's `<*>` can be read back.

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
    /// Contains a decimal digit: a strong hint of a variable (ids, counters, host names).
    pub has_digit: bool,
    /// Byte range of the token in the message, and of its variable core: the masked value
    /// without the punctuation around it (`10.0.0.1` in `(10.0.0.1),`), the whole token otherwise.
    pub span: Span,
}

/// Byte ranges of one token in its message (`u32`: messages are far below 4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub core_start: u32,
    pub core_end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        let (start, end) = (offset(start), offset(end));
        Self { start, end, core_start: start, core_end: end }
    }

    /// The whole token's text in `message`.
    pub fn whole<'a>(&self, message: &'a str) -> &'a str {
        message.get(self.start as usize..self.end as usize).unwrap_or_default()
    }

    /// The variable core's text in `message`.
    pub fn core<'a>(&self, message: &'a str) -> &'a str {
        message.get(self.core_start as usize..self.core_end as usize).unwrap_or_default()
    }
}

fn offset(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
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
    let base = message.as_ptr() as usize;
    let at = |s: &str| (s.as_ptr() as usize).saturating_sub(base);
    let wildcard = |span: Span| Token { id: WILDCARD, glued: false, has_digit: false, span };
    for word in message.split_ascii_whitespace() {
        let start = at(word);
        if out.len() >= MAX_TOKENS - 1 {
            out.push(wildcard(Span::new(start, message.len())));
            return;
        }
        if word.len() > MAX_TOKEN_BYTES {
            out.push(wildcard(Span::new(start, start + word.len())));
            continue;
        }
        // One pass finds what every later check needs; most words have no separator, digit or
        // colon, and are then settled without looking at their bytes again.
        let shape = Shape::of(word);
        let (key, value) = if shape.has(SEPARATOR) { split_pair(word) } else { (None, word) };
        if let Some(key) = key {
            let span = Span::new(start, start + key.len());
            out.push(Token { id: ids.resolve(key), glued: false, has_digit: has_digit(key), span });
        }
        // After a split, the value's own bytes decide; otherwise it is the word.
        let value_shape = if key.is_some() { Shape::of(value) } else { shape };
        let value_start = at(value);
        let mut span = Span::new(value_start, value_start + value.len());
        let piece = classify(value, value_shape);
        let id = match piece {
            Piece::Masked { prefix: "", suffix: "" } => WILDCARD,
            Piece::Masked { prefix, suffix } => {
                span.core_start = offset(value_start + prefix.len());
                span.core_end = offset(value_start + value.len() - suffix.len());
                scratch.clear();
                scratch.push_str(prefix);
                scratch.push_str(WILDCARD_TEXT);
                scratch.push_str(suffix);
                ids.resolve(scratch)
            }
            Piece::Text(text) => ids.resolve(text),
        };
        // Only literal words count: a masked value's punctuation (`(<*>),`) has no digits left.
        let has_digit = matches!(piece, Piece::Text(_)) && value_shape.has(DIGIT);
        out.push(Token { id, glued: key.is_some(), has_digit, span });
    }
}

/// Splits `key=value` (and `key:value`) into `Some("key=")` and `value`, when the key is an
/// identifier and the value is not empty; otherwise returns the word whole. A colon followed by a
/// slash is a URL's, not a key's.
fn split_pair(word: &str) -> (Option<&str>, &str) {
    let Some(at) = word.bytes().position(|b| b == b'=' || b == b':') else {
        return (None, word);
    };
    let (Some(key), Some(value)) = (word.get(..at), word.get(at + 1..)) else {
        return (None, word);
    };
    let identifier = key.len() <= 64
        && key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    // After a colon, a key with digits is rather a host name (`node-41:8030`), kept whole.
    let colon = word.as_bytes().get(at) == Some(&b':');
    let url_or_host = colon && (value.starts_with('/') || has_digit(key));
    if identifier && !value.is_empty() && !url_or_host { (word.get(..=at), value) } else { (None, word) }
}

/// Which kinds of byte a word holds, found in one pass (see [`Shape::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape(u8);

/// A decimal digit.
const DIGIT: u8 = 1;
/// A colon.
const COLON: u8 = 2;
/// A `=` or a `:`, where a `key=value` word splits.
const SEPARATOR: u8 = 4;

/// [`Shape`] bits per byte value.
static BYTE_KINDS: [u8; 256] = {
    let mut kinds = [0u8; 256];
    let mut digit = b'0';
    while digit <= b'9' {
        kinds[digit as usize] = DIGIT;
        digit += 1;
    }
    kinds[b':' as usize] = COLON | SEPARATOR;
    kinds[b'=' as usize] = SEPARATOR;
    kinds
};

impl Shape {
    /// One branch-free pass: a table lookup and an OR per byte.
    #[inline]
    fn of(word: &str) -> Self {
        Self(word.bytes().fold(0, |kinds, b| kinds | BYTE_KINDS[usize::from(b)]))
    }

    #[inline]
    fn has(self, kind: u8) -> bool {
        self.0 & kind != 0
    }
}

/// Whether `word` (whose bytes `shape` describes) is a variable, looking through the punctuation
/// around it.
fn classify(word: &str, shape: Shape) -> Piece<'_> {
    if word == WILDCARD_TEXT {
        return Piece::Masked { prefix: "", suffix: "" };
    }
    // The brackets and quotes are ASCII, so byte positions are char boundaries.
    let bytes = word.as_bytes();
    let core_start = bytes.iter().position(|b| !matches!(b, b'(' | b'[' | b'{' | b'<' | b'"' | b'\''));
    let Some(core_start) = core_start else {
        return Piece::Text(word);
    };
    let core_end = bytes
        .iter()
        .rposition(|b| !matches!(b, b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b',' | b';' | b':' | b'.' | b'!' | b'?'))
        .map_or(core_start, |i| i + 1);
    let (Some(prefix), Some(core), Some(suffix)) =
        (word.get(..core_start), word.get(core_start..core_end), word.get(core_end..))
    else {
        return Piece::Text(word);
    };
    // Most words are plain: without digits, a colon or a leading slash no mask can apply (a
    // UUID is the one shape without digits, and has 36 bytes). Saves the scans on the hot path.
    // The core is part of the word, so a word without digits or colons has a core without them.
    let plain = !shape.has(DIGIT | COLON) || !core.bytes().any(|b| b.is_ascii_digit() || b == b':');
    if core.len() != 36 && !core.starts_with('/') && plain {
        return Piece::Text(word);
    }
    if mask::is_variable(core) {
        return Piece::Masked { prefix, suffix };
    }
    if let Some(head) = numeric_tail(core).and_then(|t| word.get(..core_start + t)) {
        return Piece::Masked { prefix: head, suffix };
    }
    if mask::is_generated_id(core) {
        return Piece::Masked { prefix, suffix };
    }
    Piece::Text(word)
}

/// Where a number glued to a word by a separator starts (`core.1234`, `threshold.....0`,
/// `Thread.java:745`): the word is wording, the number a value. Underscores, dashes and slashes
/// do not separate: `job_42`, `node-7` and `HTTP/1.1` are names as a whole.
fn numeric_tail(core: &str) -> Option<usize> {
    let b = core.as_bytes();
    let mut start = b.len();
    while start > 0 && b.get(start - 1).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
        start -= 1;
    }
    while b.get(start).is_some_and(|&c| c == b'.') {
        start += 1;
    }
    let separated = start > 0 && matches!(b.get(start - 1), Some(b'.' | b':' | b'#' | b'@' | b','));
    // A head with digits of its own (`node-41.example.com:8030`) is a value as a whole.
    let worded = b
        .get(..start)
        .is_some_and(|head| head.iter().any(u8::is_ascii_alphabetic) && !head.iter().any(u8::is_ascii_digit));
    (start < b.len() && separated && worded).then_some(start)
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
    use super::{COLON, DIGIT, MAX_TOKENS, SEPARATOR, Shape, texts};

    #[test]
    fn one_pass_finds_digits_colons_and_separators() {
        assert_eq!(Shape::of("plain"), Shape(0));
        assert_eq!(Shape::of("node-7"), Shape(DIGIT));
        assert_eq!(Shape::of("a=b"), Shape(SEPARATOR));
        assert_eq!(Shape::of("host:80"), Shape(DIGIT | COLON | SEPARATOR));
        assert_eq!(Shape::of("é:"), Shape(COLON | SEPARATOR));
        assert!(Shape::of("x=1").has(DIGIT) && !Shape::of("x=1").has(COLON));
    }

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
    fn numbers_glued_to_words_by_separators() {
        assert_eq!(texts("generating core.1234"), ["generating", "core.<*>"]);
        assert_eq!(texts("threshold......0 at (Thread.java:745)"), ["threshold......<*>", "at", "(Thread.java:<*>)"]);
        assert_eq!(texts("job_42 node-7 HTTP/1.1 v1.2 core."), ["job_42", "node-7", "HTTP/1.1", "v1.2", "core."]);
        assert_eq!(texts("to node-41.example.com:80"), ["to", "node-41.example.com:80"]);
        assert_eq!(texts("blk_4292382298 done"), ["<*>", "done"]);
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
