//! The `new_pattern` rule: the first matching event of a pattern id the rule has not seen.
//!
//! The rule remembers up to `max_keys` pattern ids. When a new one arrives and the set is full,
//! the id seen least recently is forgotten (and would alert again if it came back). Events
//! without a pattern do not count. A new pattern whose alert is held back by `cooldown` is still
//! remembered: it does not alert later, and is counted in the next alert's `suppressed`.

use std::collections::HashMap;

use sluice_guest::Event;

use crate::alert::{Alert, Finding};
use crate::config::Rule;
use crate::gate::{KeyGate, RuleGate, admit};
use crate::persist::{KeyRecord, Write, encode, entry_key};
use crate::sample::Sample;

/// One remembered pattern id.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Newest `received_ns` of its events; written to the store only when the id is new, so the
    /// eviction order after a restart is by first sighting for ids not seen since.
    last_ns: i64,
    /// New in this call, not evaluated yet.
    fresh: bool,
}

/// The state of one `new_pattern` rule.
#[derive(Debug, Clone, Default)]
pub struct Novelty {
    seen: HashMap<String, Seen>,
    /// Ids new in this call, in arrival order, with their events.
    fresh: Vec<(String, Sample)>,
    /// Ids remembered since the last save, and ids forgotten since.
    added: Vec<String>,
    forgotten: Vec<String>,
}

impl Novelty {
    /// Puts a stored id back.
    pub fn restore(&mut self, record: KeyRecord) {
        self.seen.insert(record.k, Seen { last_ns: record.ls, fresh: false });
    }

    /// Notes one matching event.
    pub fn ingest(&mut self, event: &Event, index: usize, max_keys: usize) {
        let Some(pattern) = &event.pattern else { return };
        if let Some(seen) = self.seen.get_mut(pattern.id.as_str()) {
            seen.last_ns = seen.last_ns.max(event.received_ns);
            if seen.fresh
                && let Some((_, sample)) = self.fresh.iter_mut().find(|(id, _)| *id == pattern.id)
            {
                sample.push(index);
            }
            return;
        }
        if self.seen.len() >= max_keys {
            // Ties go to the smallest id, so eviction does not depend on hash order.
            let oldest =
                self.seen.iter().filter(|(_, s)| !s.fresh).min_by(|a, b| (a.1.last_ns, a.0).cmp(&(b.1.last_ns, b.0)));
            if let Some((id, _)) = oldest {
                let id = id.clone();
                self.seen.remove(&id);
                self.forgotten.push(id);
            } else {
                // Every remembered id is new in this call: the set cannot take more now.
                return;
            }
        }
        self.seen.insert(pattern.id.clone(), Seen { last_ns: event.received_ns, fresh: true });
        let mut sample = Sample::default();
        sample.push(index);
        self.fresh.push((pattern.id.clone(), sample));
    }

    /// Alerts for the ids new in this call.
    pub fn evaluate(&mut self, rule: &Rule, gate: &mut RuleGate, batch: &[Event], now: i64, out: &mut Vec<Alert>) {
        for (id, sample) in std::mem::take(&mut self.fresh) {
            if let Some(seen) = self.seen.get_mut(&id) {
                seen.fresh = false;
            }
            self.added.push(id.clone());
            // A new id has no dedup history: only the rule's cooldown can hold it back.
            let Some(suppressed) = admit(gate, &mut KeyGate::default(), now, rule.dedup_ns, rule.cooldown_ns) else {
                continue;
            };
            let template_text = sample.template(batch);
            let template = template_text.clone().unwrap_or_default();
            let finding = Finding {
                title: format!("{}: new pattern {template}", rule.name),
                message: format!(
                    "Pattern {id} appeared for the first time ({} matching event(s) in this batch): {template}",
                    sample.events
                ),
                source: rule.filter.source.clone(),
                pattern_id: Some(id.clone()),
                template: template_text,
                key: id,
                value: sample.events as f64,
                threshold: 0.0,
                window_ns: 0,
                event_ids: sample.ids(batch),
            };
            out.push(finding.into_alert(rule, now, suppressed));
        }
    }

    /// The store changes since the last call.
    pub fn writes(&mut self, prefix: &str, out: &mut Vec<Write>) {
        for id in self.forgotten.drain(..) {
            out.push(Write::Delete(entry_key(prefix, &id)));
        }
        for id in self.added.drain(..) {
            let Some(seen) = self.seen.get(&id) else { continue };
            let record = KeyRecord { k: id.clone(), ls: seen.last_ns, ..KeyRecord::default() };
            out.push(Write::Set(entry_key(prefix, &id), encode(&record)));
        }
    }

    /// Ids remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen.len()
    }
}
