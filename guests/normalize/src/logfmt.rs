//! Reading logfmt lines: `level=info msg="user signed in" user_id=42`.
//!
//! A line is logfmt only when every token is a `key=value` pair; anything else (a sentence that
//! happens to contain `a=b`) is plain text. Values may be bare or double-quoted with backslash
//! escapes; unquoted and escape-free values stay borrowed from the line.

use std::borrow::Cow;

use crate::fields::{self, KeyKind};
use crate::record::Item;

/// The pairs of a logfmt line, or `None` when the line is not logfmt: a token that is not a pair,
/// an unterminated quote, or too little evidence (one pair whose key is not a known field).
pub fn parse_line(line: &str) -> Option<Vec<(Cow<'_, str>, Item<'_>)>> {
    let mut pairs = Vec::with_capacity(8);
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c == '=' || c == '"' || c.is_whitespace())?;
        let (key, after_key) = rest.split_at(key_end);
        let after_eq = after_key.strip_prefix('=')?;
        if key.is_empty() {
            return None;
        }
        let (value, after_value) = if let Some(quoted) = after_eq.strip_prefix('"') {
            read_quoted(quoted)?
        } else {
            let end = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
            let (bare, tail) = after_eq.split_at(end);
            if bare.contains('"') {
                return None;
            }
            (Cow::Borrowed(bare), tail)
        };
        // A pair must end at whitespace or at the end of the line.
        if after_value.chars().next().is_some_and(|c| !c.is_whitespace()) {
            return None;
        }
        pairs.push((Cow::Borrowed(key), Item::Text(value)));
        rest = after_value.trim_start();
    }
    let enough = match pairs.as_slice() {
        [] => false,
        [(key, _)] => matches!(fields::classify(key), KeyKind::Field { .. }),
        _ => true,
    };
    enough.then_some(pairs)
}

/// Reads a quoted value whose opening quote is already consumed; returns it unescaped, and the
/// text after the closing quote. Unknown escapes keep their backslash.
fn read_quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let close = s.find(['"', '\\'])?;
    if s.as_bytes().get(close) == Some(&b'"') {
        return Some((Cow::Borrowed(s.get(..close)?), s.get(close + 1..)?));
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((Cow::Owned(out), s.get(i + 1..)?)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                escaped @ ('"' | '\\') => out.push(escaped),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            _ => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::parse_line;
    use crate::record::Item;

    fn texts(line: &str) -> Option<Vec<(String, String)>> {
        parse_line(line).map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| match v {
                    Item::Text(t) => (k.into_owned(), t.into_owned()),
                    Item::Json(j) => (k.into_owned(), format!("json:{j}")),
                })
                .collect()
        })
    }

    #[test]
    fn pairs_bare_and_quoted() {
        let got = texts(r#"level=info msg="user \"bob\" in\\out" empty= path=/a/b"#).unwrap();
        let want = [("level", "info"), ("msg", "user \"bob\" in\\out"), ("empty", ""), ("path", "/a/b")];
        assert_eq!(got, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    #[test]
    fn quoted_without_escapes_is_borrowed() {
        let pairs = parse_line(r#"msg="a b" level=warn"#).unwrap();
        assert!(matches!(pairs[0].1, Item::Text(Cow::Borrowed("a b"))));
    }

    #[test]
    fn single_pair_needs_a_known_key() {
        assert!(texts("msg=hello").is_some());
        assert!(texts("color=blue").is_none());
    }

    #[test]
    fn not_logfmt() {
        for line in [
            "",
            "hello world",
            "ERROR disk full host=db1 port=5432",
            "a=1 b",
            r#"msg="unterminated level=info"#,
            r#"msg="x"y level=info"#,
            "=1 b=2",
            "a=\"x\\",
            r#"a=b"c d=e"#,
        ] {
            assert!(texts(line).is_none(), "{line:?}");
        }
    }
}
