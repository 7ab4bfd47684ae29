//! The online miner: Drain over masked tokens, with patterns that persist.
//!
//! For each message: tokenize and mask it, walk the parse tree to a leaf, and compare the message
//! with the leaf's clusters. The most similar one at or above the threshold absorbs it (differing
//! positions become wildcards); otherwise a new cluster is made. Every decision depends only on
//! the sequence of messages (never on hash-map order), so two miners fed the same messages,
//! or one rebuilt from the other's stored patterns, agree on every id.

use std::collections::HashSet;

use crate::cluster::Cluster;
use crate::config::Settings;
use crate::fnv;
use crate::intern::{FastHash, Interner, WILDCARD};
use crate::persist::{self, Stored};
use crate::tokenize::{Token, tokenize};
use crate::tree::Tree;

/// The miner's whole state.
#[derive(Debug)]
pub struct Miner {
    settings: Settings,
    interner: Interner,
    tree: Tree,
    clusters: Vec<Cluster>,
    ids: HashSet<String, FastHash>,
    catch_all: Option<u32>,
    next_seq: u64,
    /// Clusters changed since the last [`Self::take_dirty`], each once.
    dirty: Vec<u32>,
    /// Reused per message, so the hot path does not allocate.
    tokens: Vec<Token>,
    scratch: String,
}

impl Miner {
    /// An empty miner.
    pub fn new(settings: Settings) -> Self {
        Self {
            tree: Tree::new(settings.depth, settings.max_children),
            settings,
            interner: Interner::default(),
            clusters: Vec::new(),
            ids: HashSet::default(),
            catch_all: None,
            next_seq: 0,
            dirty: Vec::new(),
            tokens: Vec::with_capacity(32),
            scratch: String::new(),
        }
    }

    /// Number of patterns, the catch-all included.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether no pattern exists yet.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// The cluster at `index` (as returned by [`Self::observe`]).
    pub fn cluster(&self, index: u32) -> Option<&Cluster> {
        self.clusters.get(index_of(index))
    }

    /// All clusters, in creation order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Mines one message seen at `timestamp_ns`; returns the index of its cluster.
    pub fn observe(&mut self, message: &str, timestamp_ns: i64) -> u32 {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &self.interner, &mut tokens, &mut self.scratch);
        let index = self.place(&tokens, message);
        self.tokens = tokens;
        let max_samples = self.settings.max_samples;
        if let Some(cluster) = self.clusters.get_mut(index_of(index)) {
            if !cluster.dirty {
                cluster.dirty = true;
                self.dirty.push(index);
            }
            cluster.record(message, timestamp_ns, max_samples);
        }
        index
    }

    /// Finds or makes the cluster for `tokens`.
    fn place(&mut self, tokens: &[Token], message: &str) -> u32 {
        let best = self.best_in_leaf(tokens);
        match best {
            Some((index, similarity)) if similarity >= self.settings.similarity => {
                self.absorb(index, tokens);
                index
            }
            _ if self.clusters.len() - usize::from(self.catch_all.is_some()) < self.settings.max_patterns => {
                self.create(message)
            }
            // Full: the closest pattern takes the message rather than a new one being made.
            Some((index, _)) => {
                self.absorb(index, tokens);
                index
            }
            None => self.catch_all(),
        }
    }

    /// The most similar cluster of the leaf `tokens` leads to (ties go to the more general
    /// template, then to the older one), with its similarity.
    #[inline]
    fn best_in_leaf(&self, tokens: &[Token]) -> Option<(u32, f64)> {
        let mut best: Option<(u32, f64, usize)> = None;
        for &index in self.tree.leaf(tokens) {
            let Some(cluster) = self.clusters.get(index_of(index)) else {
                continue;
            };
            let (similarity, wildcards) = cluster.similarity(tokens);
            let better = best.is_none_or(|(_, best_similarity, best_wildcards)| {
                similarity > best_similarity || (similarity == best_similarity && wildcards > best_wildcards)
            });
            if better {
                best = Some((index, similarity, wildcards));
            }
        }
        best.map(|(index, similarity, _)| (index, similarity))
    }

    fn absorb(&mut self, index: u32, tokens: &[Token]) {
        if let Some(cluster) = self.clusters.get_mut(index_of(index))
            && cluster.absorb(tokens)
        {
            cluster.render(&self.interner);
        }
    }

    /// Makes a cluster whose template is `message`, tokenized again with interning (only new
    /// patterns add tokens to the interner).
    fn create(&mut self, message: &str) -> u32 {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokenize(message, &mut self.interner, &mut tokens, &mut self.scratch);
        let index = self.next_index();
        let route = self.tree.insert(&tokens, index);
        let mut cluster = Cluster::new(String::new(), self.next_seq, &tokens, route, &self.interner);
        cluster.id = self.unique_id(&cluster.template);
        self.tokens = tokens;
        self.push(cluster)
    }

    /// The catch-all pattern, made on first use. It sits outside the tree: it is only ever chosen
    /// when nothing else can be.
    fn catch_all(&mut self) -> u32 {
        if let Some(index) = self.catch_all {
            return index;
        }
        let wildcard = [Token { id: WILDCARD, glued: false, has_digit: false }];
        let mut cluster = Cluster::new(String::new(), self.next_seq, &wildcard, Vec::new(), &self.interner);
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

    /// The store entries (key, value) of every cluster changed since the last call.
    pub fn take_dirty(&mut self) -> Vec<(String, Vec<u8>)> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut entries = Vec::with_capacity(dirty.len());
        for index in dirty {
            if let Some(cluster) = self.clusters.get_mut(index_of(index)) {
                cluster.dirty = false;
                entries.push((persist::key(&cluster.id), persist::encode(cluster, &self.interner)));
            }
        }
        entries
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
        for (id, record) in stored {
            miner.restore(id, record);
        }
        (miner, problems)
    }

    /// Puts one stored pattern back, in its stored leaf when the tree still has that shape, else
    /// where Drain would place its template now.
    fn restore(&mut self, id: String, record: Stored) {
        let interner = &mut self.interner;
        let tokens: Vec<Token> = record
            .tokens
            .iter()
            .enumerate()
            .map(|(i, text)| Token {
                id: interner.intern(text),
                glued: record.glued.contains(&i),
                has_digit: text.bytes().any(|b| b.is_ascii_digit()),
            })
            .collect();
        let index = self.next_index();
        let catch_all = record.catch_all && self.catch_all.is_none();
        let route = if catch_all {
            Vec::new()
        } else if record.route.len() == self.tree.route_len(tokens.len()) {
            let route: Vec<_> = record.route.iter().map(|t| self.interner.intern(t)).collect();
            self.tree.insert_along(tokens.len(), &route, index);
            route
        } else {
            self.tree.insert(&tokens, index)
        };
        let mut cluster = Cluster::new(id, record.seq, &tokens, route, &self.interner);
        cluster.count = record.count;
        cluster.first_seen_ns = record.first_seen_ns;
        cluster.last_seen_ns = record.last_seen_ns;
        cluster.samples = record.samples;
        cluster.catch_all = catch_all;
        cluster.dirty = false;
        self.ids.insert(cluster.id.clone());
        let index = self.push(cluster);
        if catch_all {
            self.catch_all = Some(index);
        }
    }
}

#[inline]
fn index_of(index: u32) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}
