//! Resolving spans and ranges of the batch layout, and making them.
//!
//! Whatever the host (or a test) sends, reading never panics: a span or range that does not fit
//! its buffer, or a span that cuts a character, reads as empty.

use crate::wire::{Range, Span};

/// The text `span` covers in `text`, or `""` when it does not fall inside it on character
/// boundaries.
pub(crate) fn text_at(text: &str, span: Span) -> &str {
    let start = offset(span.start);
    start.checked_add(offset(span.len)).and_then(|end| text.get(start..end)).unwrap_or("")
}

/// The entries `range` covers in `list`, or none when it does not fall inside it.
pub(crate) fn entries_at<T>(list: &[T], range: Range) -> &[T] {
    let first = offset(range.first);
    first.checked_add(offset(range.count)).and_then(|end| list.get(first..end)).unwrap_or(&[])
}

/// The span from byte `start` to the end of `text`.
pub(crate) fn span_from(start: usize, text: &str) -> Span {
    Span { start: wire_offset(start), len: wire_offset(text.len().saturating_sub(start)) }
}

/// The range from entry `first` to the end of `list`.
pub(crate) fn range_from<T>(first: usize, list: &[T]) -> Range {
    Range { first: wire_offset(first), count: wire_offset(list.len().saturating_sub(first)) }
}

/// An offset of the layout as an index.
fn offset(value: u32) -> usize {
    // `usize` is at least 32 bits on every target the SDK builds for; saturating keeps this
    // total anyway (an index that large is out of bounds, so it reads as empty).
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// An index as an offset of the layout. A guest's memory is addressed in 32 bits, so no buffer it
/// holds is longer; off WebAssembly an offset past that saturates, and the host would refuse it.
fn wire_offset(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::{entries_at, range_from, span_from, text_at};
    use crate::wire::{Range, Span};

    #[test]
    fn out_of_bounds_and_split_characters_read_as_empty() {
        let text = "héllo";
        assert_eq!(text_at(text, Span { start: 0, len: 3 }), "hé");
        assert_eq!(text_at(text, Span { start: 0, len: 2 }), "", "cuts é");
        assert_eq!(text_at(text, Span { start: 4, len: 9 }), "");
        assert_eq!(text_at(text, Span { start: u32::MAX, len: u32::MAX }), "");
        assert_eq!(text_at(text, Span { start: 6, len: 0 }), "");
        let list = [1, 2, 3];
        assert_eq!(entries_at(&list, Range { first: 1, count: 2 }), [2, 3]);
        assert!(entries_at(&list, Range { first: 2, count: 2 }).is_empty());
        assert!(entries_at(&list, Range { first: u32::MAX, count: 2 }).is_empty());
    }

    #[test]
    fn spans_and_ranges_cover_what_was_appended() {
        assert_eq!(span_from(2, "abcde"), Span { start: 2, len: 3 });
        assert_eq!(span_from(9, "abc"), Span { start: 9, len: 0 });
        assert_eq!(range_from(1, &[0; 4]), Range { first: 1, count: 3 });
    }
}
