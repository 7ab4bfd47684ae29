//! One rule's state, whatever its kind: the shared parts (start time, cooldown) and the kind's
//! own, with their way to and from the store.

use sluice_guest::Event;

use crate::absence::Absence;
use crate::alert::Alert;
use crate::config::{Check, Rule};
use crate::counting::Counting;
use crate::gate::RuleGate;
use crate::novelty::Novelty;
use crate::persist::{self, MetaRecord, Write, encode, meta_key, rule_prefix};

/// The kind-specific state.
#[derive(Debug, Clone)]
enum Body {
    Counting(Counting),
    Novelty(Novelty),
    Absence(Absence),
}

/// A rule and everything it remembers.
#[derive(Debug, Clone)]
pub struct RuleState {
    pub rule: Rule,
    /// `a/<name>/<fingerprint>/`: where this definition of the rule keeps its state.
    prefix: String,
    /// When this definition first ran (the first call after it was configured).
    started_ns: Option<i64>,
    gate: RuleGate,
    body: Body,
    /// The meta record changed since last saved.
    meta_dirty: bool,
}

impl RuleState {
    /// The state of a rule that has not run yet.
    pub fn fresh(rule: Rule) -> Self {
        let prefix = rule_prefix(&rule);
        let body = match rule.check {
            Check::Threshold { .. } | Check::RateChange { .. } | Check::VolumeSpike { .. } => {
                Body::Counting(Counting::new(&rule, &prefix))
            }
            Check::NewPattern => Body::Novelty(Novelty::default()),
            Check::Absence { .. } => Body::Absence(Absence::default()),
        };
        Self { rule, prefix, started_ns: None, gate: RuleGate::default(), body, meta_dirty: true }
    }

    /// The store prefix of this rule's state.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The rule's state rebuilt from its stored entries (all under [`Self::prefix`]); `Err` says
    /// what was unreadable.
    pub fn restore(rule: Rule, entries: &[(String, Vec<u8>)]) -> Result<Self, String> {
        let mut state = Self::fresh(rule);
        let meta_key = meta_key(&state.prefix);
        let mut meta_found = false;
        for (key, value) in entries {
            if *key == meta_key {
                let meta = persist::decode_meta(value).map_err(|e| format!("{key}: {e}"))?;
                state.started_ns = meta.st;
                state.gate = RuleGate { last_fired_ns: meta.rf, suppressed: meta.rs };
                if let Body::Absence(absence) = &mut state.body {
                    *absence = Absence::restore(&meta);
                }
                meta_found = true;
                continue;
            }
            let record = persist::decode_key(value).map_err(|e| format!("{key}: {e}"))?;
            match &mut state.body {
                Body::Counting(counting) => counting.restore(record).map_err(|e| format!("{key}: {e}"))?,
                Body::Novelty(novelty) => novelty.restore(record),
                Body::Absence(_) => return Err(format!("{key}: unexpected key entry for an absence rule")),
            }
        }
        if !meta_found && !entries.is_empty() {
            return Err("key entries without the rule's meta record".into());
        }
        state.meta_dirty = !meta_found;
        Ok(state)
    }

    /// Notes one event, the one at `index` in the batch; ignores it unless it passes the filter.
    pub fn ingest(&mut self, event: &Event, index: usize) {
        if !self.rule.filter.matches(event) {
            return;
        }
        match &mut self.body {
            Body::Counting(counting) => counting.ingest(event, index, self.rule.max_keys),
            Body::Novelty(novelty) => novelty.ingest(event, index, self.rule.max_keys),
            Body::Absence(absence) => {
                absence.ingest(event);
                self.meta_dirty = true;
            }
        }
    }

    /// Evaluates the rule at `now`, after the call's events (`batch`) were ingested.
    pub fn evaluate(&mut self, batch: &[Event], now: i64, out: &mut Vec<Alert>) {
        let started = *self.started_ns.get_or_insert_with(|| {
            self.meta_dirty = true;
            now
        });
        let gate_before = self.gate;
        match &mut self.body {
            Body::Counting(counting) => counting.evaluate(&self.rule, &mut self.gate, batch, now, out),
            Body::Novelty(novelty) => novelty.evaluate(&self.rule, &mut self.gate, batch, now, out),
            Body::Absence(absence) => {
                if absence.evaluate(&self.rule, &mut self.gate, started, now, out) {
                    self.meta_dirty = true;
                }
            }
        }
        if self.gate != gate_before {
            self.meta_dirty = true;
        }
    }

    /// Events of new keys not counted since the last call because `max_keys` were tracked.
    pub fn take_overflow(&mut self) -> u64 {
        match &mut self.body {
            Body::Counting(counting) => counting.take_overflow(),
            Body::Novelty(_) | Body::Absence(_) => 0,
        }
    }

    /// The store changes since the last call.
    pub fn writes(&mut self, out: &mut Vec<Write>) {
        match &mut self.body {
            Body::Counting(counting) => counting.writes(out),
            Body::Novelty(novelty) => novelty.writes(&self.prefix, out),
            Body::Absence(_) => {}
        }
        if self.meta_dirty {
            self.meta_dirty = false;
            let mut meta = MetaRecord {
                st: self.started_ns,
                rf: self.gate.last_fired_ns,
                rs: self.gate.suppressed,
                ..persist::new_meta()
            };
            if let Body::Absence(absence) = &self.body {
                absence.store(&mut meta);
            }
            out.push(Write::Set(meta_key(&self.prefix), encode(&meta)));
        }
    }

    /// Keys tracked now (groups, patterns; 1 for absence).
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        match &self.body {
            Body::Counting(counting) => counting.len(),
            Body::Novelty(novelty) => novelty.len(),
            Body::Absence(_) => 1,
        }
    }
}
