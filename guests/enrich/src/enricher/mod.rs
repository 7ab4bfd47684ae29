//! The enrichment engine: one insight per pattern, offline at once, replaced by the model's answer
//! when it arrives.
//!
//! Work is per pattern, never per event: an event costs a hash lookup, a count and a copy of its
//! pattern's insight text. What happens per pattern:
//! 1. First sight: the offline analysis becomes the insight, and the model is asked once
//!    (`request(id, ...)`) unless the settings say not to.
//! 2. Every call (batches and empty ticks): up to [`LOOKUPS_PER_CALL`] pending answers are looked
//!    up, round-robin. A valid answer becomes the insight (`source: model`); a failure or an
//!    invalid answer leaves the offline insight, with the reason.
//! 3. A request the host did not take (`busy`, `over-budget`, `disabled`, or `max_pending`
//!    reached) is asked again later, after the delay of [`retry_delay_ns`], up to
//!    [`RETRIES_PER_CALL`] per call.
//! 4. When a pattern turns rare or starts (or stops) bursting, its insight is rebuilt, at most
//!    once per pattern per minute.
//!
//! Each time an insight is set or replaced, one `Insight` signal is due; at most
//! [`SIGNALS_PER_CALL`] go out per call, the rest on the next calls (a pattern whose insight
//! changes again meanwhile is signalled once, with the newest).
//!
//! Bounds: `max_patterns` patterns are tracked. When a call ends with more, the least recently
//! seen are forgotten (and deleted from the store) down to 90% of the bound, so eviction runs
//! rarely; a forgotten pattern seen again is new again (novel, and asked about again unless the
//! host's cache still knows it). Within one call the table may exceed the bound by the call's new
//! patterns.
//!
//! Files: this one holds the table of patterns, the per-event path and the store writes;
//! `requests.rs` the model requests and answers; `refresh.rs` building insights and their signals.

mod refresh;
mod requests;

use std::collections::{HashMap, VecDeque};

use sluice_guest::{Annotation, Event, Outcome, PatternRef};

use crate::config::Settings;
use crate::insight::truncate;
use crate::pattern::{self, Model, Pattern};
use crate::prompt::{MAX_SAMPLE_BYTES, MAX_SAMPLES};

pub use refresh::{NOVELTY_WINDOW_NS, SIGNALS_PER_CALL};
pub use requests::{Inference, LOOKUPS_PER_CALL, RETRIES_PER_CALL, retry_delay_ns};

/// Store key of the number of events seen by the stage (the denominator of rarity).
pub const TOTAL_KEY: &str = "total";
/// Longest template kept per pattern, in bytes (prompts, summaries and signals quote it).
const MAX_TEMPLATE_BYTES: usize = 4096;
/// Longest source kept per pattern, in bytes.
const MAX_SOURCE_BYTES: usize = 200;
/// Longest level text kept per pattern, in bytes.
const MAX_LEVEL_BYTES: usize = 16;

/// One tracked pattern under its id.
#[derive(Debug)]
struct Entry {
    id: String,
    pattern: Pattern,
}

/// The engine's state for one stage instance.
#[derive(Debug)]
pub struct Enricher {
    settings: Settings,
    /// Patterns by slot; `None` for a free slot (listed in `free`).
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    index: HashMap<String, usize>,
    /// Events seen by the stage, for rarity.
    total: u64,
    total_dirty: bool,
    /// Ids with a request in flight, in lookup order.
    pending: VecDeque<String>,
    /// Ids whose request is deferred, in retry order.
    wanted: VecDeque<String>,
    /// Ids whose `Insight` signal is due.
    signals: VecDeque<String>,
    /// Slots that changed since the last [`Enricher::take_writes`].
    changed: Vec<usize>,
    /// Ids forgotten since the last [`Enricher::take_writes`], to delete from the store.
    forgotten: Vec<String>,
}

impl Enricher {
    /// An empty engine.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            total: 0,
            total_dirty: false,
            pending: VecDeque::new(),
            wanted: VecDeque::new(),
            signals: VecDeque::new(),
            changed: Vec::new(),
            forgotten: Vec::new(),
        }
    }

    /// An engine with the patterns a previous instance stored (`scan` of `p/`) and
    /// the stored total; returns the keys it could not read, with why. Requests that the new
    /// settings rule in or out are re-planned, and their insights rebuilt (and signalled on the
    /// next call).
    pub fn load(
        settings: Settings,
        stored: Vec<(String, Vec<u8>)>,
        total: Option<&[u8]>,
        now_ns: i64,
    ) -> (Self, Vec<String>) {
        let mut engine = Self::new(settings);
        let mut problems = Vec::new();
        let mut replanned_slots = Vec::new();
        engine.total = total.and_then(|t| std::str::from_utf8(t).ok()?.parse().ok()).unwrap_or(0);
        for (key, bytes) in stored {
            let Some(id) = key.strip_prefix(pattern::PREFIX) else { continue };
            match Pattern::decode(&bytes) {
                Ok(mut pattern) => {
                    pattern.dirty = false;
                    let id = id.to_owned();
                    let replanned = engine.replan(&id, &mut pattern);
                    let slot = engine.insert(id, pattern);
                    if replanned {
                        replanned_slots.push(slot);
                    }
                }
                Err(error) => problems.push(format!("{key}: {error}")),
            }
        }
        // Every stored pattern was counted once; an older or missing total is raised to that.
        let counted: u64 = engine.entries().map(|e| e.pattern.activity.count).sum();
        if counted > engine.total {
            engine.total = counted;
        }
        for slot in replanned_slots {
            engine.refresh(slot, now_ns);
        }
        (engine, problems)
    }

    /// Puts a loaded pattern in the right queue; `true` when the settings changed its plan.
    fn replan(&mut self, id: &str, pattern: &mut Pattern) -> bool {
        let off = self.off_reason(&pattern.level);
        match (&pattern.model, off) {
            (Model::Answered(_) | Model::Failed(_), _) => false,
            (Model::Off(now), Some(reason)) if *now == reason => false,
            (_, Some(reason)) => {
                pattern.model = Model::Off(reason);
                true
            }
            (Model::Off(_), None) => {
                pattern.model = Model::Wanted { at_ns: 0, reason: "model request not sent yet".into() };
                self.wanted.push_back(id.to_owned());
                true
            }
            (Model::Wanted { .. }, None) => {
                self.wanted.push_back(id.to_owned());
                false
            }
            (Model::Pending, None) => {
                self.pending.push_back(id.to_owned());
                false
            }
        }
    }

    /// Number of patterns tracked.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no pattern is tracked.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The current insight of pattern `id`, as JSON text.
    pub fn insight(&self, id: &str) -> Option<&str> {
        let slot = *self.index.get(id)?;
        self.entry(slot).map(|e| e.pattern.insight.as_str())
    }

    /// Processes a batch (empty for a tick): one outcome per event, in order.
    pub fn process(&mut self, batch: &[Event], now_ns: i64, inference: &mut impl Inference) -> Vec<Outcome> {
        self.poll(now_ns, inference);
        let mut fresh = Vec::new();
        let mut touched = Vec::new();
        let slots: Vec<Option<usize>> = batch
            .iter()
            .map(|event| {
                let pattern = event.pattern.as_ref()?;
                Some(self.observe(event, pattern, now_ns, &mut fresh, &mut touched))
            })
            .collect();
        // Asking sets each new pattern's first insight, with the request's outcome as its reason.
        for &slot in &fresh {
            self.ask(slot, now_ns, inference);
        }
        self.retry(now_ns, inference);
        for &slot in &touched {
            self.check_flags(slot, now_ns);
        }
        let outcomes = slots
            .into_iter()
            .map(|slot| match slot.and_then(|s| self.entry(s)).filter(|e| !e.pattern.insight.is_empty()) {
                Some(entry) => annotate(entry.pattern.insight.clone()),
                None => Outcome::Keep,
            })
            .collect();
        for slot in touched {
            if let Some(entry) = self.entry_mut(slot) {
                entry.pattern.in_call = 0;
            }
        }
        self.evict();
        outcomes
    }

    /// Counts one event of `pattern`; creates the pattern on first sight. Returns its slot.
    fn observe(
        &mut self,
        event: &Event,
        pattern: &PatternRef,
        now_ns: i64,
        fresh: &mut Vec<usize>,
        touched: &mut Vec<usize>,
    ) -> usize {
        let slot = match self.index.get(&pattern.id) {
            Some(&slot) => slot,
            None => {
                let new = Pattern::new(
                    truncate(&pattern.template, MAX_TEMPLATE_BYTES).to_owned(),
                    truncate(&event.level, MAX_LEVEL_BYTES).to_owned(),
                    event.source.as_deref().map(|s| truncate(s, MAX_SOURCE_BYTES).to_owned()),
                    now_ns,
                );
                let slot = self.insert(pattern.id.clone(), new);
                fresh.push(slot);
                slot
            }
        };
        self.total += 1;
        self.total_dirty = true;
        let mut newly_touched = false;
        if let Some(entry) = self.entry_mut(slot) {
            let p = &mut entry.pattern;
            // Only a pattern created in this call has no insight yet: its samples are collected.
            let is_fresh = p.insight.is_empty();
            p.activity.record(now_ns);
            p.in_call += 1;
            newly_touched = p.in_call == 1;
            if is_fresh && p.samples.len() < MAX_SAMPLES && !event.message.is_empty() {
                p.samples.push(truncate(&event.message, MAX_SAMPLE_BYTES).to_owned());
            }
        }
        if newly_touched {
            touched.push(slot);
            self.mark_changed(slot);
        }
        slot
    }

    /// The store writes since the last call: `(key, Some(value))` to set, `(key, None)` to delete.
    pub fn take_writes(&mut self) -> Vec<(String, Option<Vec<u8>>)> {
        let mut writes: Vec<(String, Option<Vec<u8>>)> =
            self.forgotten.drain(..).map(|id| (pattern::key(&id), None)).collect();
        for slot in std::mem::take(&mut self.changed) {
            if let Some(Some(entry)) = self.slots.get_mut(slot)
                && std::mem::take(&mut entry.pattern.dirty)
            {
                writes.push((pattern::key(&entry.id), Some(entry.pattern.encode())));
            }
        }
        if std::mem::take(&mut self.total_dirty) {
            writes.push((TOTAL_KEY.to_owned(), Some(self.total.to_string().into_bytes())));
        }
        writes
    }

    /// Marks a pattern for writing (once per call).
    fn mark_changed(&mut self, slot: usize) {
        if let Some(Some(entry)) = self.slots.get_mut(slot)
            && !std::mem::replace(&mut entry.pattern.dirty, true)
        {
            self.changed.push(slot);
        }
    }

    /// Forgets the least recently seen patterns down to 90% of `max_patterns`, when above it.
    fn evict(&mut self) {
        let max = self.settings.max_patterns;
        if self.index.len() <= max {
            return;
        }
        let keep = max - max / 10;
        let mut by_age: Vec<(i64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.as_ref()?.pattern.activity.last_seen_ns, i)))
            .collect();
        let remove = by_age.len() - keep;
        by_age.select_nth_unstable(remove - 1);
        for &(_, slot) in &by_age[..remove] {
            if let Some(entry) = self.slots.get_mut(slot).and_then(Option::take) {
                self.index.remove(&entry.id);
                self.free.push(slot);
                self.forgotten.push(entry.id);
            }
        }
    }

    fn insert(&mut self, id: String, pattern: Pattern) -> usize {
        let entry = Some(Entry { id: id.clone(), pattern });
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = entry;
                slot
            }
            None => {
                self.slots.push(entry);
                self.slots.len() - 1
            }
        };
        self.index.insert(id, slot);
        slot
    }

    fn entry(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn entry_mut(&mut self, slot: usize) -> Option<&mut Entry> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flatten()
    }
}

/// The outcome that sets only the event's insight.
fn annotate(insight: String) -> Outcome {
    Outcome::Annotate(Annotation { level: None, pattern: None, insight: Some(insight), attributes: Vec::new() })
}
