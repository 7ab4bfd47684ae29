//! The online miner: masked tokens, strict matching, and merges once a position proves variable.
//!
//! For each message: tokenize and mask it, then look for a pattern of the same length whose
//! every constant is in the message (constants with digits may differ: they generalise). If none
//! fits, a new pattern is made, and compared with its siblings: patterns that are equal except at
//! one position are different wordings while few, and one pattern with a variable there once
//! `min_variable_values` distinct words have been seen at that position. Such a group is merged
//! into its oldest member, as is every pattern the result then covers. So the miner errs towards
//! making patterns, and the evidence of later lines merges them, never the other way round: a
//! pattern is never split, an event's id only ever moves to the pattern that absorbed it.
//!
//! Every decision depends only on the sequence of messages and on the live templates (never on
//! hash-map order), so two miners fed the same messages, or one rebuilt from the other's stored
//! patterns, agree on every id.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::cluster::{Cluster, Fit};
use crate::config::Settings;
use crate::fnv;
use crate::index::{Index, message_hash};
use crate::intern::{FastHash, Interner, TokenId, WILDCARD};
use crate::persist::{self, Stored};
use crate::siblings::holes;
use crate::tokenize::{Span, Token, tokenize};

/// Merge rounds after one new pattern at most: each round can enable the next (a merged template
/// differs from other siblings at one position less), but the chain is short in practice.
const MAX_MERGE_ROUNDS: usize = 8;

/// Patterns of one length looked at, latest first, for those a changed template now covers. A
/// safeguard: logs rarely have this many live patterns of one length, and when one does, a scan
/// of them all after each change of template would dominate the work.
const COVER_SCAN_LIMIT: usize = 4096;

/// A pattern whose template generalised, or that absorbed others, since the last report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub template: String,
    /// Ids of the patterns merged into this one.
    pub merged: Vec<String>,
}

/// The miner's whole state.
#[derive(Debug)]
pub struct Miner {
    settings: Settings,
    interner: Interner,
    index: Index,
    clusters: Vec<Cluster>,
    ids: HashSet<String, FastHash>,
    catch_all: Option<u32>,
    next_seq: u64,
    /// Clusters changed since the last [`Self::take_dirty`], each once.
    dirty: Vec<u32>,
    /// Clusters whose template changed since the last [`Self::take_changes`], with the ids they
    /// absorbed meanwhile.
    changes: BTreeMap<u32, Vec<String>>,
    /// Reused per message, so the hot path does not allocate.
    tokens: Vec<Token>,
    scratch: String,
}

impl Miner {
    /// An empty miner.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            interner: Interner::default(),
            index: Index::default(),
            clusters: Vec::new(),
            ids: HashSet::default(),
            catch_all: None,
            next_seq: 0,
            dirty: Vec::new(),
            changes: BTreeMap::new(),
            tokens: Vec::with_capacity(32),
            scratch: String::new(),
        }
    }

    /// Number of patterns ever made (merged ones included), the catch-all included.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether no pattern exists yet.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Number of patterns not merged into another.
    pub fn live(&self) -> usize {
        self.clusters.iter().filter(|c| c.merged_into.is_none()).count()
    }

    /// The cluster at `index`, as it is (possibly merged into another).
    pub fn cluster(&self, index: u32) -> Option<&Cluster> {
        self.clusters.get(index_of(index))
    }

    /// The cluster that now holds what joined `index`: itself, or the one it was merged into.
    pub fn final_cluster(&self, index: u32) -> Option<&Cluster> {
        self.cluster(self.resolve(index))
    }

    /// All clusters, in creation order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Follows merges from `index` to the surviving cluster.
    pub fn resolve(&self, mut index: u32) -> u32 {
        // Merges always point to an older cluster, so the chain ends; the bound is a safeguard.
        for _ in 0..self.clusters.len() {
            match self.cluster(index).and_then(|c| c.merged_into) {
                Some(next) => index = next,
                None => break,
            }
        }
        index
    }

    /// Mines one message seen at `timestamp_ns`; returns the index of its (surviving) cluster.
    pub fn observe(&mut self, message: &str, timestamp_ns: i64) -> u32 {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &self.interner, &mut tokens, &mut self.scratch);
        self.tokens = tokens;
        let index = self.place(message);
        let max_samples = self.settings.max_samples;
        if let Some(cluster) = self.clusters.get_mut(index_of(index)) {
            cluster.record(message, timestamp_ns, max_samples);
        }
        self.mark_dirty(index);
        index
    }

    /// The values at the `<*>` positions of `index`'s template in `message`, which must be the
    /// message last given to [`Self::observe`]. Each masked value comes without the punctuation
    /// the template keeps around it.
    pub fn variables<'a>(&'a self, index: u32, message: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let cluster = self.cluster(index);
        let catch_all = cluster.is_some_and(|c| c.catch_all);
        let positions = cluster.filter(|_| !catch_all).map_or(&[][..], |c| c.variables.as_slice());
        let whole = catch_all.then_some(message);
        let per_token = positions.iter().filter_map(move |&p| {
            let template = cluster.and_then(|c| c.tokens.get(p as usize)).copied()?;
            let span = self.tokens.get(p as usize)?.span;
            Some(if template == WILDCARD { span.whole(message) } else { span.core(message) })
        });
        whole.into_iter().chain(per_token)
    }

    /// Finds or makes the cluster for the last tokenized message.
    fn place(&mut self, message: &str) -> u32 {
        let hash = message_hash(&self.tokens);
        if let Some(index) = hash.and_then(|h| self.index.exact(h))
            && self.cluster(index).is_some_and(|c| c.merged_into.is_none() && c.fit(&self.tokens, 0) == Fit::Exact)
        {
            return index;
        }
        let (exact, generalising) = self.best_fit();
        if let Some(index) = exact {
            if let Some(hash) = hash {
                self.index.remember(hash, index);
            }
            return index;
        }
        if let Some(index) = generalising {
            let tokens = std::mem::take(&mut self.tokens);
            self.retemplate(index, |c| c.absorb(&tokens));
            self.tokens = tokens;
            self.absorb_covered(index);
            return self.resolve(index);
        }
        if self.clusters.len() - usize::from(self.catch_all.is_some()) < self.settings.max_patterns {
            let index = self.create(message);
            self.merge_siblings(index);
            return self.resolve(index);
        }
        // Full: the closest pattern of the same length takes the message, if close enough.
        match self.closest() {
            Some(index) => {
                let tokens = std::mem::take(&mut self.tokens);
                self.retemplate(index, |c| c.absorb(&tokens));
                self.tokens = tokens;
                index
            }
            None => self.catch_all(),
        }
    }

    /// The first cluster the message fits exactly, and else the first it fits by generalising.
    #[inline]
    fn best_fit(&self) -> (Option<u32>, Option<u32>) {
        let min_shared = self.min_shared(self.tokens.len());
        let mut generalising = None;
        for index in self.index.candidates(&self.tokens) {
            match self.cluster(index).map(|c| c.fit(&self.tokens, min_shared)) {
                Some(Fit::Exact) => return (Some(index), None),
                Some(Fit::Generalising) if generalising.is_none() => generalising = Some(index),
                _ => {}
            }
        }
        (None, generalising)
    }

    /// Equal constants two token sequences of `len` tokens must share, besides the positions that
    /// differ, to be taken as one family: `similarity` of the length, and at least one.
    fn min_shared(&self, len: usize) -> usize {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "small counts"
        )]
        let needed = (self.settings.similarity * len as f64).ceil() as usize;
        needed.max(1)
    }

    /// The most similar live cluster among those the message may fit, if at least `similarity`
    /// similar. (Not all of its length: with `max_patterns` reached, that would be a long scan
    /// for every message.)
    fn closest(&self) -> Option<u32> {
        let mut best: Option<(u32, f64)> = None;
        for index in self.index.candidates(&self.tokens) {
            let Some(similarity) = self.cluster(index).map(|c| c.similarity(&self.tokens)) else {
                continue;
            };
            if similarity >= self.settings.similarity && best.is_none_or(|(_, s)| similarity > s) {
                best = Some((index, similarity));
            }
        }
        best.map(|(index, _)| index)
    }

    /// Changes the template of the live cluster `index` with `change`, keeping the index, the
    /// rendering and the change report up to date.
    fn retemplate(&mut self, index: u32, change: impl FnOnce(&mut Cluster) -> bool) {
        let Some(cluster) = self.clusters.get_mut(index_of(index)) else {
            return;
        };
        let (old_tokens, old_digits) = (cluster.tokens.clone(), cluster.digits.clone());
        if !change(cluster) {
            return;
        }
        cluster.render(&self.interner);
        if !cluster.catch_all {
            self.index.remove(index, &old_tokens, &old_digits);
            self.index.insert(index, &cluster.tokens, &cluster.digits);
        }
        self.index.forget();
        self.changes.entry(index).or_default();
        self.mark_dirty(index);
    }

    /// Looks for siblings of `index` (same length, equal except at one position); merges a group
    /// once its position has shown enough distinct words, and repeats with the result.
    fn merge_siblings(&mut self, mut index: u32) {
        for _ in 0..MAX_MERGE_ROUNDS {
            let Some(group) = self.variable_group(index) else {
                return;
            };
            index = self.merge(&group);
            self.absorb_covered(index);
        }
    }

    /// The first position at which `index` and its siblings show `min_variable_values` distinct
    /// words, with the clusters involved (`index` included, in creation order).
    fn variable_group(&self, index: u32) -> Option<Vec<u32>> {
        let cluster = self.cluster(index)?;
        let mine = &cluster.tokens;
        let my_digits = &cluster.digits;
        let mut by_position: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        let min_shared = self.min_shared(mine.len());
        for position in holes(mine) {
            for other in self.index.siblings.candidates(mine, my_digits, position) {
                let Some(theirs) = self.cluster(other) else {
                    continue;
                };
                let sibling = other != index
                    && theirs.merged_into.is_none()
                    && !theirs.catch_all
                    && theirs.tokens.len() == mine.len()
                    && single_difference((mine, my_digits), (&theirs.tokens, &theirs.digits), min_shared)
                        == Some(position);
                if sibling {
                    by_position.entry(position).or_default().push(other);
                }
            }
        }
        let needed = self.settings.min_variable_values;
        for (position, mut members) in by_position {
            let mut words: Vec<TokenId> =
                members.iter().filter_map(|&m| self.cluster(m).and_then(|c| c.tokens.get(position).copied())).collect();
            words.extend(mine.get(position));
            words.sort_unstable();
            words.dedup();
            if words.len() >= needed {
                members.push(index);
                members.sort_unstable();
                members.dedup();
                return Some(members);
            }
        }
        None
    }

    /// Every live cluster that the template of `index` now covers is merged into it (among the
    /// [`COVER_SCAN_LIMIT`] latest of its length).
    fn absorb_covered(&mut self, index: u32) {
        let Some(cluster) = self.cluster(index) else {
            return;
        };
        if cluster.catch_all {
            return;
        }
        let covered: Vec<u32> = self
            .index
            .of_length(cluster.tokens.len())
            .iter()
            .rev()
            .take(COVER_SCAN_LIMIT)
            .copied()
            .filter(|&other| other != index && self.cluster(other).is_some_and(|o| cluster.covers(&o.tokens)))
            .collect();
        if !covered.is_empty() {
            let mut group = covered;
            group.push(index);
            group.sort_unstable();
            self.merge(&group);
        }
    }

    /// Merges the live clusters of `group` (in creation order) into the oldest; returns it.
    fn merge(&mut self, group: &[u32]) -> u32 {
        let Some((&survivor, absorbed)) = group.split_first() else {
            return 0;
        };
        let templates: Vec<Vec<TokenId>> =
            absorbed.iter().filter_map(|&a| self.cluster(a).map(|c| c.tokens.clone())).collect();
        self.retemplate(survivor, |c| templates.iter().fold(false, |changed, t| c.absorb_template(t) | changed));
        let max_samples = self.settings.max_samples;
        let mut merged_ids = Vec::with_capacity(absorbed.len());
        for &other in absorbed {
            let Some((target, taken)) = pair_mut(&mut self.clusters, survivor, other) else {
                continue;
            };
            if taken.merged_into.is_some() {
                continue;
            }
            target.take_stats(taken, max_samples);
            taken.merged_into = Some(survivor);
            merged_ids.push(taken.id.clone());
            let (tokens, digits) = (taken.tokens.clone(), taken.digits.clone());
            self.index.remove(other, &tokens, &digits);
            merged_ids.extend(self.changes.remove(&other).unwrap_or_default());
            self.mark_dirty(other);
        }
        self.index.forget();
        self.changes.entry(survivor).or_default().extend(merged_ids);
        self.mark_dirty(survivor);
        survivor
    }

    /// Makes a cluster whose template is `message`, tokenized again with interning (only new
    /// patterns add tokens to the interner).
    fn create(&mut self, message: &str) -> u32 {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &mut self.interner, &mut tokens, &mut self.scratch);
        let index = self.next_index();
        let mut cluster = Cluster::new(String::new(), self.next_seq, &tokens, &self.interner);
        cluster.id = self.unique_id(&cluster.template);
        self.index.insert(index, &cluster.tokens, &cluster.digits);
        self.tokens = tokens;
        self.push(cluster)
    }

    /// The catch-all pattern, made on first use. It sits outside the index: it is only ever
    /// chosen when nothing else can be.
    fn catch_all(&mut self) -> u32 {
        if let Some(index) = self.catch_all {
            return index;
        }
        let wildcard = [Token { id: WILDCARD, glued: false, has_digit: false, span: Span::default() }];
        let mut cluster = Cluster::new(String::new(), self.next_seq, &wildcard, &self.interner);
        cluster.id = self.unique_id(&cluster.template);
        cluster.catch_all = true;
        let index = self.push(cluster);
        self.catch_all = Some(index);
        index
    }

    /// The id for a pattern first created as `template`. Should it be taken already (a template
    /// can be re-created after its first cluster generalised past it, or two hashes can collide),
    /// the next salt is tried: still a pure function of the message sequence.
    fn unique_id(&mut self, template: &str) -> String {
        let mut salt = 0;
        loop {
            let id = fnv::pattern_id(template, salt);
            if self.ids.insert(id.clone()) {
                return id;
            }
            salt += 1;
        }
    }

    fn next_index(&self) -> u32 {
        u32::try_from(self.clusters.len()).unwrap_or(u32::MAX)
    }

    fn push(&mut self, cluster: Cluster) -> u32 {
        let index = self.next_index();
        self.next_seq = self.next_seq.max(cluster.seq + 1);
        self.clusters.push(cluster);
        index
    }

    fn mark_dirty(&mut self, index: u32) {
        if let Some(cluster) = self.clusters.get_mut(index_of(index))
            && !cluster.dirty
        {
            cluster.dirty = true;
            self.dirty.push(index);
        }
    }

    /// The store entries (key, value) of every cluster changed since the last call.
    pub fn take_dirty(&mut self) -> Vec<(String, Vec<u8>)> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut entries = Vec::with_capacity(dirty.len());
        for index in dirty {
            let survivor = self.resolve(index);
            let merged_into = (survivor != index).then(|| self.cluster(survivor).map(|c| c.id.clone())).flatten();
            if let Some(cluster) = self.clusters.get_mut(index_of(index)) {
                cluster.dirty = false;
                let value = persist::encode(cluster, merged_into.as_deref(), &self.interner);
                entries.push((persist::key(&cluster.id), value));
            }
        }
        entries
    }

    /// The patterns whose template changed, or that absorbed others, since the last call: one
    /// entry per surviving pattern, in creation order.
    pub fn take_changes(&mut self) -> Vec<Change> {
        let changes = std::mem::take(&mut self.changes);
        let mut out: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for (index, merged) in changes {
            out.entry(self.resolve(index)).or_default().extend(merged);
        }
        out.into_iter()
            .filter_map(|(index, merged)| {
                let cluster = self.cluster(index)?;
                Some(Change { id: cluster.id.clone(), template: cluster.template.clone(), merged })
            })
            .collect()
    }

    /// Rebuilds a miner from store entries (as `scan("p/")` returns them). Entries that cannot be
    /// read are skipped and described in the returned list, for the log.
    pub fn load(settings: Settings, entries: Vec<(String, Vec<u8>)>) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut stored: Vec<(String, Stored)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(id) = persist::id_from_key(&key) else {
                problems.push(format!("{key}: not a pattern key"));
                continue;
            };
            match persist::decode(&value) {
                Ok(record) => stored.push((id.to_owned(), record)),
                Err(e) => problems.push(format!("{key}: {e}")),
            }
        }
        stored.sort_by(|(a_id, a), (b_id, b)| a.seq.cmp(&b.seq).then_with(|| a_id.cmp(b_id)));
        let mut miner = Self::new(settings);
        let mut merges = Vec::new();
        for (id, record) in stored {
            let index = miner.next_index();
            if let Some(target) = record.merged_into.clone() {
                merges.push((index, target));
            }
            miner.restore(id, record);
        }
        let by_id: HashMap<String, u32> = miner
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        for (index, target) in merges {
            match by_id.get(&target) {
                Some(&survivor) if survivor != index => {
                    if let Some(cluster) = miner.clusters.get_mut(index_of(index)) {
                        cluster.merged_into = Some(survivor);
                    }
                }
                _ => problems.push(format!(
                    "p/{}: merged into unknown pattern {target}",
                    miner.clusters.get(index_of(index)).map_or("", |c| c.id.as_str())
                )),
            }
        }
        for (i, cluster) in miner.clusters.iter().enumerate() {
            if cluster.merged_into.is_none() && !cluster.catch_all {
                miner.index.insert(u32::try_from(i).unwrap_or(u32::MAX), &cluster.tokens, &cluster.digits);
            }
        }
        (miner, problems)
    }

    /// Puts one stored pattern back (not yet indexed: merges are resolved first).
    fn restore(&mut self, id: String, record: Stored) {
        let interner = &mut self.interner;
        let tokens: Vec<Token> = record
            .tokens
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let id = interner.intern(text);
                Token {
                    id,
                    glued: record.glued.contains(&i),
                    has_digit: id != WILDCARD && text.bytes().any(|b| b.is_ascii_digit()),
                    span: Span::default(),
                }
            })
            .collect();
        let catch_all = record.catch_all && self.catch_all.is_none() && record.merged_into.is_none();
        let mut cluster = Cluster::new(id, record.seq, &tokens, &self.interner);
        cluster.count = record.count;
        cluster.first_seen_ns = record.first_seen_ns;
        cluster.last_seen_ns = record.last_seen_ns;
        cluster.samples = record.samples;
        cluster.catch_all = catch_all;
        self.ids.insert(cluster.id.clone());
        let index = self.push(cluster);
        if catch_all {
            self.catch_all = Some(index);
        }
    }
}

/// The one position where two templates of the same length hold different constants, if they
/// agree everywhere else and share at least `min_shared` equal constants. Different constants
/// that both hold digits agree, as they would for a message (see [`Fit::Generalising`]).
fn single_difference(a: (&[TokenId], &[bool]), b: (&[TokenId], &[bool]), min_shared: usize) -> Option<usize> {
    let mut found = None;
    let mut shared = 0usize;
    let pairs = a.0.iter().zip(a.1).zip(b.0.iter().zip(b.1));
    for (i, ((&x, &x_digit), (&y, &y_digit))) in pairs.enumerate() {
        if x == y {
            shared += usize::from(x != WILDCARD);
        } else if x_digit && y_digit {
            continue;
        } else if x == WILDCARD || y == WILDCARD || found.is_some() {
            return None;
        } else {
            found = Some(i);
        }
    }
    found.filter(|_| shared >= min_shared)
}

/// The clusters `a` and `b` (`a < b`), both mutably.
fn pair_mut(clusters: &mut [Cluster], a: u32, b: u32) -> Option<(&mut Cluster, &mut Cluster)> {
    let (a, b) = (index_of(a), index_of(b));
    if a >= b {
        return None;
    }
    let (left, right) = clusters.split_at_mut(b);
    Some((left.get_mut(a)?, right.first_mut()?))
}

#[inline]
fn index_of(index: u32) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}
