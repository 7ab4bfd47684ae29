//! A log cluster: one pattern, its template and its statistics.

use crate::intern::{Interner, TokenId, WILDCARD};
use crate::tokenize::Token;

/// Longest sample message kept, in bytes; samples illustrate a pattern, they are not an archive.
pub const MAX_SAMPLE_BYTES: usize = 512;

/// How a message compares with a template of the same length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Every template constant is in the message.
    Exact,
    /// It fits once constants with digits that differ become wildcards: two different
    /// digit-bearing words at one place (`attempt_01`, `attempt_02`) are values, not wording.
    Generalising,
    /// A constant of the template is missing.
    No,
}

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
    /// Per token, whether the constant holds a decimal digit (see [`Fit::Generalising`]).
    pub digits: Vec<bool>,
    /// The template as text, rendered once per change rather than once per message.
    pub template: String,
    /// Positions of the tokens holding a `<*>`, kept with the rendering.
    pub variables: Vec<u32>,
    /// Bumped at each rendering, so a copy of the template can be known current without
    /// comparing text.
    pub revision: u32,
    pub count: u64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub samples: Vec<String>,
    /// The overflow pattern that takes messages once `max_patterns` is reached and nothing fits.
    pub catch_all: bool,
    /// The cluster this one was merged into; its messages now belong there.
    pub merged_into: Option<u32>,
    /// Changed since the last write to the host store (maintained by the miner).
    pub dirty: bool,
}

impl Cluster {
    /// A new cluster whose template is exactly `tokens`.
    pub fn new(id: String, seq: u64, tokens: &[Token], interner: &Interner) -> Self {
        let mut cluster = Self {
            id,
            seq,
            tokens: tokens.iter().map(|t| t.id).collect(),
            glued: tokens.iter().map(|t| t.glued).collect(),
            digits: tokens.iter().map(|t| t.has_digit).collect(),
            template: String::new(),
            variables: Vec::new(),
            revision: 0,
            count: 0,
            first_seen_ns: i64::MAX,
            last_seen_ns: i64::MIN,
            samples: Vec::new(),
            catch_all: false,
            merged_into: None,
            dirty: false,
        };
        cluster.render(interner);
        cluster
    }

    /// Rebuilds [`Self::template`] and [`Self::variables`] from the tokens.
    pub fn render(&mut self, interner: &Interner) {
        self.revision = self.revision.wrapping_add(1);
        self.template.clear();
        self.variables.clear();
        for (i, (&id, &glued)) in self.tokens.iter().zip(&self.glued).enumerate() {
            if i > 0 && !glued {
                self.template.push(' ');
            }
            self.template.push_str(interner.text(id));
            if interner.is_masked(id) {
                self.variables.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
    }

    /// Whether the template has at least one `<*>`.
    pub fn has_variables(&self) -> bool {
        !self.variables.is_empty()
    }

    /// How `message` (of the same length) fits the template. Generalising needs at least
    /// `min_shared` equal constants besides: with fewer, the digit words may be all there is.
    #[inline]
    pub fn fit(&self, message: &[Token], min_shared: usize) -> Fit {
        let mut generalising = false;
        let mut shared = 0usize;
        for ((&t, &digit), m) in self.tokens.iter().zip(&self.digits).zip(message) {
            if t == WILDCARD {
                continue;
            }
            if t == m.id {
                shared += 1;
            } else if digit && m.has_digit {
                generalising = true;
            } else {
                return Fit::No;
            }
        }
        match (generalising, shared >= min_shared) {
            (false, _) => Fit::Exact,
            (true, true) => Fit::Generalising,
            (true, false) => Fit::No,
        }
    }

    /// Drain's similarity, used only to pick the closest pattern once no new one may be made:
    /// the share of positions where template and message agree.
    pub fn similarity(&self, message: &[Token]) -> f64 {
        if self.tokens.is_empty() {
            return 1.0;
        }
        let same = self.tokens.iter().zip(message).filter(|&(&t, m)| t == WILDCARD || t == m.id).count();
        #[allow(clippy::cast_precision_loss, reason = "token counts are small")]
        let share = same as f64 / self.tokens.len() as f64;
        share
    }

    /// Generalises the template to cover `message`: positions that differ become wildcards.
    /// Returns whether the template changed.
    pub fn absorb(&mut self, message: &[Token]) -> bool {
        let mut changed = false;
        for ((t, digit), m) in self.tokens.iter_mut().zip(&mut self.digits).zip(message) {
            if *t != m.id && *t != WILDCARD {
                *t = WILDCARD;
                *digit = false;
                changed = true;
            }
        }
        changed
    }

    /// Generalises the template to cover another template of the same length. Returns whether
    /// it changed.
    pub fn absorb_template(&mut self, other: &[TokenId]) -> bool {
        let mut changed = false;
        for ((t, digit), &o) in self.tokens.iter_mut().zip(&mut self.digits).zip(other) {
            if *t != o && *t != WILDCARD {
                *t = WILDCARD;
                *digit = false;
                changed = true;
            }
        }
        changed
    }

    /// Whether every constant of this template is in `other` (a template of the same length):
    /// this one covers every message the other does.
    pub fn covers(&self, other: &[TokenId]) -> bool {
        self.tokens.len() == other.len() && self.tokens.iter().zip(other).all(|(&t, &o)| t == WILDCARD || t == o)
    }

    /// Takes over the statistics and samples of a cluster merged into this one.
    pub fn take_stats(&mut self, other: &mut Self, max_samples: usize) {
        self.count = self.count.saturating_add(other.count);
        self.first_seen_ns = self.first_seen_ns.min(other.first_seen_ns);
        self.last_seen_ns = self.last_seen_ns.max(other.last_seen_ns);
        for sample in std::mem::take(&mut other.samples) {
            if self.samples.len() >= max_samples {
                break;
            }
            if !self.samples.contains(&sample) {
                self.samples.push(sample);
            }
        }
        other.count = 0;
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
    use super::{Cluster, Fit, truncate};
    use crate::intern::Interner;
    use crate::tokenize::tokens;

    #[test]
    fn fit_absorb_render() {
        let mut interner = Interner::default();
        let first = tokens(&mut interner, "User alice logged in from 10.0.0.1");
        let mut cluster = Cluster::new("id".into(), 0, &first, &interner);
        assert_eq!(cluster.template, "User alice logged in from <*>");
        let second = tokens(&mut interner, "User bob logged in from 10.0.0.2");
        assert_eq!(cluster.fit(&second, 1), Fit::No);
        assert!((cluster.similarity(&second) - 5.0 / 6.0).abs() < 1e-9);
        assert!(cluster.absorb(&second));
        cluster.render(&interner);
        assert_eq!(cluster.template, "User <*> logged in from <*>");
        assert!(!cluster.absorb(&second));
        assert_eq!(cluster.fit(&second, 1), Fit::Exact);
    }

    #[test]
    fn digit_words_generalise() {
        let mut interner = Interner::default();
        let first = tokens(&mut interner, "task attempt_01 done");
        let cluster = Cluster::new("id".into(), 0, &first, &interner);
        assert_eq!(cluster.fit(&tokens(&mut interner, "task attempt_02 done"), 2), Fit::Generalising);
        assert_eq!(cluster.fit(&tokens(&mut interner, "task attempt_02 done"), 3), Fit::No);
        assert_eq!(cluster.fit(&tokens(&mut interner, "task attempt done"), 1), Fit::No);
    }

    #[test]
    fn covers_and_merges_templates() {
        let mut interner = Interner::default();
        let a = Cluster::new("a".into(), 0, &tokens(&mut interner, "VM <*> paused"), &interner);
        let mut b = Cluster::new("b".into(), 1, &tokens(&mut interner, "VM 7 resumed"), &interner);
        assert!(a.covers(&Cluster::new("c".into(), 2, &tokens(&mut interner, "VM x paused"), &interner).tokens));
        assert!(!a.covers(&b.tokens));
        assert!(b.absorb_template(&a.tokens));
        b.render(&interner);
        assert_eq!(b.template, "VM <*> <*>");
    }

    #[test]
    fn glued_values_render_without_space() {
        let mut interner = Interner::default();
        let t = tokens(&mut interner, "done user=bob took=12ms");
        let cluster = Cluster::new("id".into(), 0, &t, &interner);
        assert_eq!(cluster.template, "done user=bob took=<*>");
    }

    #[test]
    fn record_keeps_stats_and_distinct_samples() {
        let interner = Interner::default();
        let mut cluster = Cluster::new("id".into(), 0, &[], &interner);
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
