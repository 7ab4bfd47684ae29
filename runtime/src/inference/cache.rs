//! What the service knows per key: pending (queued or in flight), answered or failed. Bounded:
//! beyond its capacity the oldest entry is dropped, so memory stays flat however many patterns a
//! pipeline sees. Durability is not its job: guests keep insights in their own state.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::wasm::Answer;

#[derive(Debug)]
struct Entry {
    answer: Answer,
    /// When the call failed, for the retry back-off.
    failed_at: Option<Instant>,
    /// Which insertion this is, so the order queue can tell a live key from a stale one.
    generation: u64,
}

#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    entries: HashMap<String, Entry>,
    /// Keys in insertion order with their generation; a key re-inserted later (a retry) leaves a
    /// stale pair behind that eviction skips.
    order: VecDeque<(String, u64)>,
    next_generation: u64,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Cache { capacity: capacity.max(1), entries: HashMap::new(), order: VecDeque::new(), next_generation: 0 }
    }

    pub fn get(&self, key: &str) -> Option<&Answer> {
        self.entries.get(key).map(|e| &e.answer)
    }

    /// When `key` failed, if its last call did.
    pub fn failed_at(&self, key: &str) -> Option<Instant> {
        self.entries.get(key).and_then(|e| e.failed_at)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Marks `key` pending (a new request or a retry), dropping the oldest entries if full.
    pub fn insert_pending(&mut self, key: &str) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let fresh = Entry { answer: Answer::Pending, failed_at: None, generation };
        if self.entries.insert(key.to_string(), fresh).is_none() {
            while self.entries.len() > self.capacity {
                self.evict_oldest();
            }
        }
        self.order.push_back((key.to_string(), generation));
        // Stale pairs only come from retries; keep the queue from growing past twice the entries.
        if self.order.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.order.retain(|(k, g)| entries.get(k).is_some_and(|e| e.generation == *g));
        }
    }

    /// Records how the call for `key` ended. A key evicted meanwhile stays evicted.
    pub fn settle(&mut self, key: &str, answer: Answer, now: Instant) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.failed_at = matches!(answer, Answer::Failed(_)).then_some(now);
            entry.answer = answer;
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((key, generation)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|e| e.generation == generation) {
                self.entries.remove(&key);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::Cache;
    use crate::wasm::Answer;

    #[test]
    fn oldest_goes_first_and_retries_keep_their_place_fresh() {
        let mut cache = Cache::new(2);
        cache.insert_pending("a");
        cache.insert_pending("b");
        cache.settle("a", Answer::Failed("x".into()), Instant::now());
        assert!(cache.failed_at("a").is_some());
        // A retry of `a` makes it the newest, so `b` is dropped first.
        cache.insert_pending("a");
        assert_eq!(cache.get("a"), Some(&Answer::Pending));
        assert_eq!(cache.failed_at("a"), None);
        cache.insert_pending("c");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("b"), None);
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        // An answer for an evicted key is not resurrected.
        cache.insert_pending("d");
        cache.settle("a", Answer::Ready("{}".into()), Instant::now());
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.len(), 2);
    }
}
