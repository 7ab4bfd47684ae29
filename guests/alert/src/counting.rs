//! The counting rules: `threshold`, `rate_change` and `volume_spike`.
//!
//! Each keeps one [`Series`] per key (`""`, a source or a pattern id) and is evaluated, at the end
//! of a call, for the keys that received matching events in it: a condition can only start to
//! hold when events arrive, and evaluating idle keys on every tick would count one suppressed
//! trigger per second for as long as a window stays full.
//!
//! At most `max_keys` keys are tracked. An event of a new key beyond that is not counted; keys
//! are forgotten once their series is empty and their dedup is over, which makes room again.

use std::collections::HashMap;

use sluice_guest::Event;

use crate::alert::{Alert, Finding};
use crate::config::{Check, GroupBy, Rule};
use crate::duration::Span;
use crate::gate::{KeyGate, RuleGate, admit, is_live};
use crate::persist::{KeyRecord, SeriesRecord, Write, encode, entry_key};
use crate::sample::Sample;
use crate::series::{Geometry, SLOTS, Series};

/// One tracked key.
#[derive(Debug, Clone)]
struct Entry {
    series: Series,
    gate: KeyGate,
    /// This call's events, for the alert text; `events > 0` marks the key for evaluation.
    sample: Sample,
    /// Changed since last saved.
    dirty: bool,
    /// Where it is saved: computed once, as it is written after every call that touches it.
    store_key: String,
}

impl Entry {
    fn new(series: Series, gate: KeyGate, store_key: String) -> Self {
        Self { series, gate, sample: Sample::default(), dirty: false, store_key }
    }

    /// Counts the event at `index` in the batch, received in `slot`.
    fn record(&mut self, geometry: Geometry, slot: i64, index: usize) {
        self.series.add(geometry, slot);
        self.sample.push(index);
        self.dirty = true;
    }
}

/// The state of one counting rule.
#[derive(Debug, Clone)]
pub struct Counting {
    geometry: Geometry,
    group_by: GroupBy,
    keys: HashMap<String, Entry>,
    /// Events not counted because `max_keys` keys were tracked, since last reported.
    overflow: u64,
    /// Store keys of the keys forgotten since the last save.
    forgotten: Vec<String>,
    /// The rule's store prefix.
    prefix: String,
}

impl Counting {
    /// Fresh state for `rule`, which must be a counting rule.
    pub fn new(rule: &Rule, prefix: &str) -> Self {
        let (geometry, group_by) = match rule.check {
            Check::Threshold { window_ns, group_by, .. } => (Geometry::new(window_ns, 0), group_by),
            Check::RateChange { window_ns, baseline_ns, group_by, .. } => {
                (Geometry::new(window_ns, baseline_ns), group_by)
            }
            Check::VolumeSpike { window_ns, baseline_ns, .. } => {
                (Geometry::new(window_ns, baseline_ns), GroupBy::Pattern)
            }
            Check::NewPattern | Check::Absence { .. } => (Geometry::new(SLOTS, 0), GroupBy::None),
        };
        Self { geometry, group_by, keys: HashMap::new(), overflow: 0, forgotten: Vec::new(), prefix: prefix.to_owned() }
    }

    /// Puts a stored key back; `Err` when the record does not fit this rule.
    pub fn restore(&mut self, record: KeyRecord) -> Result<(), String> {
        let series = Series::from_parts(self.geometry, record.h, record.f, record.c)
            .ok_or_else(|| format!("counters of key `{}` do not fit the rule", record.k))?;
        let gate = KeyGate { last_fired_ns: record.lf, suppressed: record.sp };
        let store_key = entry_key(&self.prefix, &record.k);
        self.keys.insert(record.k, Entry::new(series, gate, store_key));
        Ok(())
    }

    /// Events of new keys refused since the last call, reset.
    pub fn take_overflow(&mut self) -> u64 {
        std::mem::take(&mut self.overflow)
    }

    /// Counts one matching event, the one at `index` in the batch.
    pub fn ingest(&mut self, event: &Event, index: usize, max_keys: usize) {
        let key = match self.group_by {
            GroupBy::None => "",
            GroupBy::Source => event.source.as_deref().unwrap_or(""),
            GroupBy::Pattern => event.pattern.as_ref().map_or("", |p| p.id.as_str()),
        };
        let slot = self.geometry.slot(event.received_ns);
        if let Some(entry) = self.keys.get_mut(key) {
            entry.record(self.geometry, slot, index);
            return;
        }
        if self.keys.len() >= max_keys {
            self.overflow += 1;
            return;
        }
        let store_key = entry_key(&self.prefix, key);
        let mut entry = Entry::new(Series::new(self.geometry, slot), KeyGate::default(), store_key);
        entry.record(self.geometry, slot, index);
        self.keys.insert(key.to_owned(), entry);
    }

    /// Evaluates the keys that had events in this call, at `now`, and forgets idle keys.
    pub fn evaluate(&mut self, rule: &Rule, gate: &mut RuleGate, batch: &[Event], now: i64, out: &mut Vec<Alert>) {
        let (geometry, now_slot) = (self.geometry, self.geometry.slot(now));
        // One pass moves every series to `now`, finds the keys whose condition holds, and forgets
        // the idle ones. Only triggered keys are copied.
        let mut triggered: Vec<(String, Sample, Level)> = Vec::new();
        let forgotten = &mut self.forgotten;
        self.keys.retain(|key, entry| {
            entry.series.advance(geometry, now_slot);
            let sample = std::mem::take(&mut entry.sample);
            if sample.events > 0 {
                if let Some(level) = level(rule, geometry, &entry.series) {
                    triggered.push((key.clone(), sample, level));
                }
                return true;
            }
            let keep = !entry.series.is_empty() || is_live(&entry.gate, now, rule.dedup_ns);
            if !keep {
                forgotten.push(std::mem::take(&mut entry.store_key));
            }
            keep
        });
        // Sorted, so which key wins a cooldown does not depend on hash order.
        triggered.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, sample, level) in triggered {
            let Some(entry) = self.keys.get_mut(&key) else { continue };
            if let Some(suppressed) = admit(gate, &mut entry.gate, now, rule.dedup_ns, rule.cooldown_ns) {
                let finding = describe(geometry, self.group_by, rule, key, &entry.series, level, sample, batch);
                out.push(finding.into_alert(rule, now, suppressed));
            }
        }
    }

    /// The store changes since the last call: changed keys written, forgotten ones deleted.
    pub fn writes(&mut self, out: &mut Vec<Write>) {
        out.extend(self.forgotten.drain(..).map(Write::Delete));
        for (key, entry) in self.keys.iter_mut().filter(|(_, e)| e.dirty) {
            entry.dirty = false;
            let (head, fine, coarse) = entry.series.parts();
            let record = SeriesRecord {
                k: key,
                h: head,
                f: fine,
                c: coarse,
                lf: entry.gate.last_fired_ns,
                sp: entry.gate.suppressed,
            };
            out.push(Write::Set(entry.store_key.clone(), encode(&record)));
        }
    }

    /// Keys tracked now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The limit a triggered key was compared with.
#[derive(Debug, Clone, Copy)]
struct Level {
    /// The number `current` had to exceed (threshold) or reach (rates).
    limit: f64,
    /// Rates: the baseline's count scaled to one window.
    expected: f64,
}

/// The limit passed by `series` if the rule's condition holds.
fn level(rule: &Rule, geometry: Geometry, series: &Series) -> Option<Level> {
    let current = series.current();
    match rule.check {
        Check::Threshold { above, .. } => (current > above).then_some(Level { limit: above as f64, expected: 0.0 }),
        Check::RateChange { factor, min_events, .. } | Check::VolumeSpike { factor, min_events, .. } => {
            // What the window would hold at the baseline's rate.
            let expected = series.baseline() as f64 * SLOTS as f64 / series.baseline_slots(geometry) as f64;
            let limit = factor * expected;
            (current >= min_events && current as f64 >= limit)
                .then_some(Level { limit: limit.max(min_events as f64), expected })
        }
        Check::NewPattern | Check::Absence { .. } => None,
    }
}

/// The finding for a triggered key, with the figures in words.
#[allow(clippy::too_many_arguments, reason = "one call site; a struct would only rename them")]
fn describe(
    geometry: Geometry,
    group_by: GroupBy,
    rule: &Rule,
    key: String,
    series: &Series,
    level: Level,
    sample: Sample,
    batch: &[Event],
) -> Finding {
    let window = Span(geometry.window_ns());
    let current = series.current();
    let (source, pattern_id, template) = match group_by {
        GroupBy::Source => (non_empty(&key), rule.filter.pattern.clone(), None),
        GroupBy::Pattern => (rule.filter.source.clone(), non_empty(&key), sample.template(batch)),
        GroupBy::None => (rule.filter.source.clone(), rule.filter.pattern.clone(), None),
    };
    // A pattern key reads better as its template than as its id.
    let of = match &template {
        Some(template) => format!(" for `{template}`"),
        None => of_key(&key),
    };
    let (title, message) = match rule.check {
        Check::RateChange { factor, min_events, .. } | Check::VolumeSpike { factor, min_events, .. } => {
            let baseline = series.baseline();
            let span = Span(series.baseline_slots(geometry) * geometry.slot_ns);
            let what = if matches!(rule.check, Check::VolumeSpike { .. }) { "pattern volume" } else { "rate" };
            let change = if baseline == 0 {
                "from nothing".to_owned()
            } else {
                format!("{:.1}x", current as f64 / level.expected)
            };
            let title = format!("{}: {what} up {change}{of}", rule.name);
            let message = format!(
                "{current} matching events in the last {window}{of}, against {baseline} in the {span} before \
                 ({:.1} per {window}); alerts at {factor}x that and at least {min_events} events.",
                level.expected
            );
            (title, message)
        }
        _ => {
            let title = format!("{}: {current} events in {window}{of}", rule.name);
            let message =
                format!("{current} matching events in the last {window}{of}, more than the limit of {}.", level.limit);
            (title, message)
        }
    };
    Finding {
        key,
        value: current as f64,
        threshold: level.limit,
        window_ns: window.0,
        title,
        message,
        source,
        pattern_id,
        template,
        event_ids: sample.ids(batch),
    }
}

/// ` for <key>`, or nothing for the rule-wide key.
fn of_key(key: &str) -> String {
    if key.is_empty() { String::new() } else { format!(" for `{key}`") }
}

fn non_empty(key: &str) -> Option<String> {
    (!key.is_empty()).then(|| key.to_owned())
}
