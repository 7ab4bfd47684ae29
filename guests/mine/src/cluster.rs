//! A log cluster: one pattern, its template and its statistics.

use crate::intern::{Interner, TokenId, WILDCARD};
use crate::tokenize::Token;

/// Longest sample message kept, in bytes; samples illustrate a pattern, they are not an archive.
pub const MAX_SAMPLE_BYTES: usize = 512;

/// One pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Stable id: derived from the template as first created, never changed afterwards.
    pub id: String,
    /// Creation order, so a rebuild from state inserts patterns in the order they were made.
    pub seq: u64,
    /// Template tokens; [`WILDCARD`] where messages differed.
    pub tokens: Vec<TokenId>,
    /// Per token, whether it follows the previous one without a space.
    pub glued: Vec<bool>,
    /// Keys of the tree branch the cluster sits in (see `Tree`), kept so a rebuild puts it back in
    /// the same leaf even after its template has generalised.
    pub route: Vec<TokenId>,
    /// The template as text, rendered once per change rather than once per message.
    pub template: String,
    pub count: u64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub samples: Vec<String>,
    /// The overflow pattern that takes messages once `max_patterns` is reached and nothing fits.
    pub catch_all: bool,
    /// Changed since the last write to the host store (maintained by the miner).
    pub dirty: bool,
}

impl Cluster {
    /// A new cluster whose template is exactly `tokens`.
    pub fn new(id: String, seq: u64, tokens: &[Token], route: Vec<TokenId>, interner: &Interner) -> Self {
        let mut cluster = Self {
            id,
            seq,
            tokens: tokens.iter().map(|t| t.id).collect(),
            glued: tokens.iter().map(|t| t.glued).collect(),
            route,
            template: String::new(),
            count: 0,
            first_seen_ns: i64::MAX,
            last_seen_ns: i64::MIN,
            samples: Vec::new(),
            catch_all: false,
            dirty: false,
        };
        cluster.render(interner);
        cluster
    }

    /// Rebuilds [`Self::template`] from the tokens.
    pub fn render(&mut self, interner: &Interner) {
        self.template.clear();
        for (i, (&id, &glued)) in self.tokens.iter().zip(&self.glued).enumerate() {
            if i > 0 && !glued {
                self.template.push(' ');
            }
            self.template.push_str(interner.text(id));
        }
    }

    /// Drain's similarity of the template with a message of the same length: the share of
    /// positions where both hold the same constant, or both a wildcard (a masked variable in the
    /// message). A template wildcard facing a concrete token does not count, so heavily generalised
    /// templates do not swallow everything. Also returns the number of template wildcards, which
    /// breaks ties in favour of the more general template.
    #[inline]
    pub fn similarity(&self, message: &[Token]) -> (f64, usize) {
        if self.tokens.is_empty() {
            return (1.0, 0);
        }
        let mut same = 0usize;
        let mut wildcards = 0usize;
        for (&t, m) in self.tokens.iter().zip(message) {
            if t == WILDCARD {
                wildcards += 1;
                same += usize::from(m.id == WILDCARD);
            } else {
                same += usize::from(t == m.id);
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "token counts are small")]
        (same as f64 / self.tokens.len() as f64, wildcards)
    }

    /// Generalises the template to cover `message`: positions that differ become wildcards.
    /// Returns whether the template changed.
    pub fn absorb(&mut self, message: &[Token]) -> bool {
        let mut changed = false;
        for (t, m) in self.tokens.iter_mut().zip(message) {
            if *t != m.id && *t != WILDCARD {
                *t = WILDCARD;
                changed = true;
            }
        }
        changed
    }

    /// Counts one more message, seen at `timestamp_ns`; keeps it as a sample if there is room and
    /// it is new.
    pub fn record(&mut self, message: &str, timestamp_ns: i64, max_samples: usize) {
        self.count = self.count.saturating_add(1);
        self.first_seen_ns = self.first_seen_ns.min(timestamp_ns);
        self.last_seen_ns = self.last_seen_ns.max(timestamp_ns);
        if self.samples.len() < max_samples {
            let sample = truncate(message, MAX_SAMPLE_BYTES);
            if !self.samples.iter().any(|s| s == sample) {
                self.samples.push(sample.to_owned());
            }
        }
    }
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let end = (0..=max).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{Cluster, truncate};
    use crate::intern::Interner;
    use crate::tokenize::tokens;

    #[test]
    fn similarity_absorb_render() {
        let mut interner = Interner::default();
        let first = tokens(&mut interner, "User alice logged in from 10.0.0.1");
        let mut cluster = Cluster::new("id".into(), 0, &first, Vec::new(), &interner);
        assert_eq!(cluster.template, "User alice logged in from <*>");
        let second = tokens(&mut interner, "User bob logged in from 10.0.0.2");
        assert_eq!(cluster.similarity(&second), (5.0 / 6.0, 1));
        assert!(cluster.absorb(&second));
        cluster.render(&interner);
        assert_eq!(cluster.template, "User <*> logged in from <*>");
        assert!(!cluster.absorb(&second));
        assert_eq!(cluster.similarity(&second), (5.0 / 6.0, 2));
    }

    #[test]
    fn glued_values_render_without_space() {
        let mut interner = Interner::default();
        let t = tokens(&mut interner, "done user=bob took=12ms");
        let cluster = Cluster::new("id".into(), 0, &t, Vec::new(), &interner);
        assert_eq!(cluster.template, "done user=bob took=<*>");
    }

    #[test]
    fn record_keeps_stats_and_distinct_samples() {
        let interner = Interner::default();
        let mut cluster = Cluster::new("id".into(), 0, &[], Vec::new(), &interner);
        cluster.record("a", 20, 2);
        cluster.record("a", 10, 2);
        cluster.record("b", 30, 2);
        cluster.record("c", 25, 2);
        assert_eq!((cluster.count, cluster.first_seen_ns, cluster.last_seen_ns), (4, 10, 30));
        assert_eq!(cluster.samples, ["a", "b"]);
    }

    #[test]
    fn truncation_respects_chars() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("ok", 10), "ok");
    }
}
