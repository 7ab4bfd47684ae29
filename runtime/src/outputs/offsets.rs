//! How far each durable output has taken the journal, and the point every one of them holds.
//!
//! The journal is released, `/flush` answers, the HTTP backlog is measured and Kafka offsets are
//! committed against [`Offsets::held`]: the smallest committed offset over the durable outputs.
//! It only moves forward while outputs run; removing a lagging output lets it jump ahead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// The committed journal offset of every durable output. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Offsets {
    outputs: Arc<Mutex<BTreeMap<String, u64>>>,
    /// Outputs that do not know their offset yet; nothing may be released meanwhile.
    unknown: Arc<Mutex<BTreeSet<String>>>,
    /// Each output's last failure (when, what), cleared by its next commit.
    errors: Arc<Mutex<BTreeMap<String, (i64, String)>>>,
    held: Arc<watch::Sender<u64>>,
}

impl Offsets {
    /// Starts with one output (the embedded store, which is always there) at `offset`.
    pub fn new(first: &str, offset: u64) -> Self {
        let outputs = BTreeMap::from([(first.to_string(), offset)]);
        Offsets {
            outputs: Arc::new(Mutex::new(outputs)),
            unknown: Arc::default(),
            errors: Arc::default(),
            held: Arc::new(watch::channel(offset).0),
        }
    }

    /// Adds an output that does not yet know its offset: it holds the journal where it is now,
    /// until [`Offsets::start`] says where the output really is.
    pub fn expect(&self, output: &str) {
        let current = *self.held.borrow();
        self.unknown.lock().unwrap_or_else(|p| p.into_inner()).insert(output.to_string());
        let mut outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        outputs.entry(output.to_string()).or_insert(current);
        self.publish(&outputs);
    }

    /// Sets where an output starts from (what its own store says it committed); this may be
    /// behind the others, and then holds the journal there.
    ///
    /// Wakes whoever watches [`Offsets::held`] even when the offset stays the same: an output
    /// becoming known is news to `/flush`, which waits for every output to know where it is.
    pub fn start(&self, output: &str, offset: u64) {
        let mut outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        outputs.insert(output.to_string(), offset);
        self.unknown.lock().unwrap_or_else(|p| p.into_inner()).remove(output);
        self.publish(&outputs);
        self.held.send_modify(|_| {});
    }

    /// Whether every output knows its offset (journal segments may be released).
    pub fn all_known(&self) -> bool {
        self.unknown.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// Records a failed delivery; shown by `/stats` until the output commits again.
    pub fn fail(&self, output: &str, error: String) {
        let now = crate::event::now_ns();
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).insert(output.to_string(), (now, error));
    }

    /// Each output's last failure since it last committed: (nanoseconds since the epoch, message).
    pub fn errors(&self) -> BTreeMap<String, (i64, String)> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records that `output` has durably committed everything below `offset`. An output seen for
    /// the first time joins the set.
    pub fn commit(&self, output: &str, offset: u64) {
        let mut outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        let slot = outputs.entry(output.to_string()).or_insert(offset);
        *slot = (*slot).max(offset);
        self.publish(&outputs);
        drop(outputs);
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).remove(output);
    }

    /// Takes an output out of the set (the pipeline no longer has it).
    pub fn remove(&self, output: &str) {
        let mut outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        outputs.remove(output);
        self.publish(&outputs);
        drop(outputs);
        self.unknown.lock().unwrap_or_else(|p| p.into_inner()).remove(output);
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).remove(output);
    }

    /// One output's committed offset, if it is in the set.
    pub fn get(&self, output: &str) -> Option<u64> {
        self.outputs.lock().unwrap_or_else(|p| p.into_inner()).get(output).copied()
    }

    /// Every output's committed offset, by name.
    pub fn all(&self) -> BTreeMap<String, u64> {
        self.outputs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The offset every durable output holds, as a watch.
    pub fn held(&self) -> watch::Receiver<u64> {
        self.held.subscribe()
    }

    fn publish(&self, outputs: &BTreeMap<String, u64>) {
        if let Some(&min) = outputs.values().min() {
            self.held.send_if_modified(|held| {
                let changed = *held != min;
                *held = min;
                changed
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Offsets;

    #[test]
    fn an_output_becoming_known_wakes_the_watchers() {
        let offsets = Offsets::new("libsql", 10);
        offsets.expect("postgres");
        assert!(!offsets.all_known());
        let mut held = offsets.held();
        held.borrow_and_update();
        // Where the placeholder was: the offset does not move, but the news must arrive.
        offsets.start("postgres", 10);
        assert!(offsets.all_known());
        assert!(held.has_changed().unwrap_or(false));
        assert_eq!(*held.borrow_and_update(), 10);
    }

    #[test]
    fn held_is_the_slowest_output() {
        let offsets = Offsets::new("libsql", 10);
        let held = offsets.held();
        offsets.commit("postgres", 4);
        assert_eq!(*held.borrow(), 4);
        offsets.commit("libsql", 30);
        offsets.commit("postgres", 20);
        assert_eq!(*held.borrow(), 20);
        // An offset never goes back for one output.
        offsets.commit("postgres", 5);
        assert_eq!(offsets.get("postgres"), Some(20));
        offsets.remove("postgres");
        assert_eq!(*held.borrow(), 30);
        // A new output holds the journal where it is until it knows its own offset.
        offsets.expect("kafka");
        assert!(!offsets.all_known());
        assert_eq!(offsets.get("kafka"), Some(30));
        offsets.start("kafka", 25);
        assert!(offsets.all_known());
        assert_eq!(*held.borrow(), 25);
        offsets.fail("kafka", "broker down".into());
        assert!(offsets.errors().contains_key("kafka"));
        offsets.commit("kafka", 40);
        assert!(offsets.errors().is_empty());
    }
}
